"""The *Plugin > Predict ESM contacts* dialog (Qt through ``pymol.Qt``).

The structure is read and the options are checked in the GUI thread (fast, and the
PyMOL API is not re-entered from elsewhere); the model load and the prediction run in
a worker thread in the way of PyMOL's own ``pymol.Qt.utils.AsyncFunc``, and the
contacts are drawn back in the GUI thread when the worker reports. Errors go to a
message box and to the log.
"""

import traceback
from typing import Optional

from pymol import CmdException, cmd
from pymol.Qt import QtCore, QtWidgets
from pymol.Qt.utils import AsyncFunc

from . import commands, drawing

TITLE = "Predict ESM contacts"

#: The one dialog of the session (PyMOL's plugins keep theirs at module level so that
#: Qt does not garbage-collect the window).
_dialog: Optional["ContactsDialog"] = None


class ProgressFunc(AsyncFunc):
    """``AsyncFunc`` that also reports stage messages from the worker thread."""

    progressed = QtCore.Signal(str)

    def __call__(self, *args, **kwargs):
        kwargs["progress"] = self.progressed.emit
        super().__call__(*args, **kwargs)


def _model_names():
    try:
        from esm_contacts.models import KNOWN_MODELS

        return list(KNOWN_MODELS)
    except ImportError:
        return [commands.DEFAULT_MODEL]


def chain_choices(_self=cmd):
    """Selections of every protein chain in the session: ``obj and chain A``."""
    choices = []
    for obj in _self.get_object_list("polymer.protein") or []:
        for chain in _self.get_chains(f"%{obj} and polymer.protein"):
            choices.append(f"{obj} and chain {chain}" if chain else f"{obj} and polymer.protein")
    if "sele" in _self.get_names("selections"):
        choices.append("sele")
    return choices


CHECKPOINT_FILES = "ESM checkpoints (*.pt);;All files (*)"


def form_row(*widgets) -> QtWidgets.QWidget:
    """Widgets side by side in one form row, the first one stretching."""
    row = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    layout.setStretch(0, 1)
    return row


def choose_file(parent, title: str, filters: str) -> str:
    """A file picked in Qt's open dialog ('' when cancelled)."""
    path, _ = QtWidgets.QFileDialog.getOpenFileName(parent, title, "", filters)
    return path


def show_error(parent, title: str, status: QtWidgets.QLabel, error: BaseException) -> None:
    """An error in a message box, the status line and PyMOL's log (traceback for bugs only)."""
    message = error.message if isinstance(error, CmdException) else f"{type(error).__name__}: {error}"
    if not isinstance(error, CmdException):
        traceback.print_exception(type(error), error, error.__traceback__)
    print(f" {title}: Error: {message}")
    status.setText(f"Error: {message}")
    QtWidgets.QMessageBox.critical(parent, title, message)


def main_window():
    """PyMOL's Qt main window, or None (commands-only PyMOL)."""
    try:
        from pymol.gui import get_qtwindow

        return get_qtwindow()
    except ImportError:
        return None


class ContactsDialog(QtWidgets.QDialog):
    """Options, Run and Close; one prediction at a time."""

    def __init__(self, parent=None, _self=cmd):
        super().__init__(parent)
        self._self = _self
        self.setWindowTitle(TITLE)
        self.setObjectName("esm_contacts_dialog")
        self._job = None
        self._build()
        self.refresh()

    # -- widgets ---------------------------------------------------------------------

    def _build(self) -> None:
        form = QtWidgets.QFormLayout()

        self.selection = QtWidgets.QComboBox(editable=True)
        self.selection.setToolTip("One protein chain (any PyMOL selection inside one chain)")
        refresh = QtWidgets.QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        form.addRow("Chain", form_row(self.selection, refresh))

        self.model = QtWidgets.QComboBox(editable=True)
        self.model.addItems(_model_names())
        self.model.setCurrentText(commands.DEFAULT_MODEL)
        browse_model = QtWidgets.QPushButton("Browse...")
        browse_model.clicked.connect(self.browse_model)
        form.addRow("Model", form_row(self.model, browse_model))

        self.device = QtWidgets.QComboBox(editable=True)
        self.device.addItems(["auto", "cpu", "cuda"])
        form.addRow("Device", self.device)

        self.top = QtWidgets.QComboBox(editable=True)
        self.top.addItems(["L", "L/2", "L/5", "all"])
        form.addRow("Top", self.top)

        self.range = QtWidgets.QComboBox()
        self.range.addItems(list(drawing.RANGE_NAMES))
        form.addRow("Range", self.range)

        self.min_sep = QtWidgets.QSpinBox()
        self.min_sep.setRange(1, 10000)
        self.min_sep.setValue(6)
        self.min_sep.setToolTip("Minimum sequence separation; choosing a range sets it to the range's lower bound")
        form.addRow("Min separation", self.min_sep)
        self.range.currentTextChanged.connect(self.range_changed)

        self.threshold = QtWidgets.QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setSpecialValueText("none")  # shown at 0: no threshold
        form.addRow("Probability threshold", self.threshold)

        self.msa = QtWidgets.QLineEdit()
        self.msa.setPlaceholderText("optional: a3m, aligned FASTA or Stockholm")
        browse_msa = QtWidgets.QPushButton("Browse...")
        browse_msa.clicked.connect(self.browse_msa)
        form.addRow("MSA", form_row(self.msa, browse_msa))

        self.num_seqs = QtWidgets.QSpinBox()
        self.num_seqs.setRange(1, 100000)
        self.num_seqs.setValue(64)
        form.addRow("MSA sequences", self.num_seqs)

        self.assembly = QtWidgets.QLineEdit()
        self.assembly.setPlaceholderText("optional: file or PDB ID (file:ID) whose assembly gives the partner copies")
        self.assembly.setToolTip("For a chain alone in its object: its biological assembly supplies the homodimer "
                                 "partner copies (drawn as name_partner). Empty: the object's own entry where PyMOL "
                                 "fetched it; 'none': off.")
        browse_assembly = QtWidgets.QPushButton("Browse...")
        browse_assembly.clicked.connect(self.browse_assembly)
        form.addRow("Assembly", form_row(self.assembly, browse_assembly))

        self.name = QtWidgets.QLineEdit("esm")
        form.addRow("Group name", self.name)

        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QtWidgets.QLabel("Ready")
        self.status.setWordWrap(True)

        self.run_button = QtWidgets.QPushButton("Run")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.run_button)
        buttons.addWidget(close)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    def refresh(self) -> None:
        """Fill the chain picker from the session."""
        current = self.selection.currentText()
        self.selection.clear()
        self.selection.addItems(chain_choices(self._self))
        if current:
            self.selection.setCurrentText(current)

    def browse_model(self) -> None:
        path = choose_file(self, "ESM checkpoint", CHECKPOINT_FILES)
        if path:
            self.model.setCurrentText(path)

    def browse_msa(self) -> None:
        path = choose_file(self, "Multiple sequence alignment",
                           "Alignments (*.a3m *.a2m *.fasta *.fa *.afa *.sto *.stk);;All files (*)")
        if path:
            self.msa.setText(path)

    def browse_assembly(self) -> None:
        path = choose_file(self, "Structure with a biological assembly",
                           "Structures (*.cif *.cif.gz *.bcif *.pdb *.pdb.gz *.ent);;All files (*)")
        if path:
            self.assembly.setText(path)

    def range_changed(self, name: str) -> None:
        """Start the separation at the range's lower bound (6 for all): never an empty range."""
        from esm_contacts.metrics import RANGES

        self.min_sep.setValue(RANGES[name][0] if name in RANGES else 6)

    # -- running ---------------------------------------------------------------------

    def options(self) -> drawing.Options:
        threshold = self.threshold.value()
        return drawing.parse_options(self.top.currentText(), self.min_sep.value(), self.range.currentText(),
                                     threshold if threshold > 0 else None, self.name.text(), None, _self=self._self)

    def run(self) -> None:
        """Check the input, then predict in a worker thread."""
        if self._job is not None:
            return
        try:
            options = self.options()
            target = commands.prepare_target(self.selection.currentText(), self.assembly.text(), self._self)
        except Exception as error:  # noqa: BLE001 - every failure goes to the user
            self.fail(error)
            return
        model = self.model.currentText().strip() or commands.DEFAULT_MODEL
        msa = self.msa.text().strip() or None
        self._job = ProgressFunc(commands.predict)
        self._job.progressed.connect(self.status.setText)
        self._job.finished.connect(lambda outcome: self.finish(outcome, target, options, msa))
        self.run_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy: the model gives no finer progress
        self.status.setText(f"Starting {model} on {target.label}")
        self._job(target.sequence, model, self.device.currentText().strip() or "auto", msa, self.num_seqs.value())

    def finish(self, outcome, target, options, msa) -> None:
        """Back in the GUI thread: draw, or report the worker's error."""
        job, self._job = self._job, None
        self.run_button.setEnabled(True)
        self.progress.setRange(0, 1)
        try:
            if job is not None:
                job.wait()
            result, error = outcome
            if error is None:
                P, sequence, model = result
                label = f"{model}, MSA {msa}" if msa else model
                drawn = commands.draw_prediction(P, sequence, target, options, label,
                                                 source=f"the MSA {msa}" if msa else "the prediction", _self=self._self)
                self.progress.setValue(1)
                counts = drawn["counts"]
                self.status.setText(
                    f"Drew {options.name}: {counts['tp']} true, {counts['fp']} false, {counts['inter']} homodimer "
                    f"contacts; precision at top {options.top} {drawn['precision']:.2f}")
                return
        except Exception as draw_error:  # noqa: BLE001 - every failure goes to the user
            error = draw_error
        self.progress.setValue(0)
        self.fail(error)

    def fail(self, error: BaseException) -> None:
        show_error(self, TITLE, self.status, error)


def show_dialog(_self=cmd) -> ContactsDialog:
    """Open (or raise) the dialog, with the chain picker refreshed."""
    global _dialog
    if _dialog is None:
        _dialog = ContactsDialog(main_window(), _self=_self)
    else:
        _dialog.refresh()
    _dialog.show()
    _dialog.raise_()
    _dialog.activateWindow()
    return _dialog
