"""The *Plugin > Predict ESM contacts* dialog (Qt through ``pymol.Qt``).

The structure is read and the options are checked in the GUI thread (fast, and the
PyMOL API is not re-entered from elsewhere); the model load and the prediction run in
a worker thread in the way of PyMOL's own ``pymol.Qt.utils.AsyncFunc``, and the
contacts are drawn back in the GUI thread when the worker reports. Errors go to a
message box and to the log.
"""

import traceback
from typing import Callable, Dict

from pymol import CmdException, cmd
from pymol.Qt import QtCore, QtWidgets
from pymol.Qt.utils import AsyncFunc

from esm_contacts.formats import contact_suffixes, file_dialog_filter
from esm_contacts.metrics import RANGES
from esm_contacts.plot import FIGURE_SUFFIXES

from . import check, commands, drawing, style
from .window import main_window

TITLE = "Predict ESM contacts"

#: The one dialog of each kind in the session, by title (PyMOL's plugins keep theirs at
#: module level so that Qt does not garbage-collect the window).
_DIALOGS: Dict[str, QtWidgets.QDialog] = {}


class ProgressFunc(AsyncFunc):
    """``AsyncFunc`` that also reports stage messages from the worker thread."""

    progressed = QtCore.Signal(str)

    def __call__(self, *args, **kwargs):
        kwargs["progress"] = self.progressed.emit
        super().__call__(*args, **kwargs)


def chain_choices(_self=cmd):
    """Selections of every protein chain in the session: ``obj and chain A``.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    choices : list of str
        One selection per protein chain, then ``sele`` where it exists.
    """
    choices = []
    for obj in _self.get_object_list("polymer.protein") or []:
        for chain in _self.get_chains(f"%{obj} and polymer.protein"):
            choices.append(f"{obj} and chain {chain}" if chain else f"{obj} and polymer.protein")
    if "sele" in _self.get_names("selections"):
        choices.append("sele")
    return choices


CHECKPOINT_FILES = "ESM checkpoints (*.pt);;All files (*)"
#: The Predict dialog's model field also takes a contact file (drawn as esm_contacts_load does):
#: every format the core reads (:func:`esm_contacts.formats.contact_suffixes`).
MODEL_OR_CONTACT_FILES = (
    "ESM checkpoints or contact files (*.pt "
    + " ".join(f"*{suffix}" for suffix in contact_suffixes("read"))
    + ");;"
    + file_dialog_filter("read")
)
#: The figure files the core writes (:data:`esm_contacts.plot.FIGURE_SUFFIXES`).
PLOT_FILES = f"Images ({' '.join('*' + s for s in FIGURE_SUFFIXES)})"


class StatusLabel(QtWidgets.QLabel):
    """A status line that wraps (also inside long paths, after each ``/``) and grows in
    height instead of being clipped; ``text()`` gives the text as it was set."""

    @QtCore.Slot(str)
    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        # A slot of this QObject: the worker thread's progress signal is queued to the GUI thread.
        self._raw = str(text)
        super().setText(self._raw.replace("/", "/\u200b"))

    def text(self) -> str:
        return getattr(self, "_raw", super().text())


def status_label(text: str = "") -> QtWidgets.QLabel:
    """A :class:`StatusLabel`; its text can be selected and copied.

    Parameters
    ----------
    text : str
        The first text.

    Returns
    -------
    label : StatusLabel
        The status line.
    """
    label = StatusLabel()
    label.setText(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
    # Ignored width: a long line never widens the dialog past the screen; it wraps instead.
    label.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.MinimumExpanding)
    label.setMinimumWidth(200)
    return label


def set_status(label: QtWidgets.QLabel, text: str) -> None:
    """Show ``text`` in a status line.

    Parameters
    ----------
    label : QtWidgets.QLabel
        The status line.
    text : str
        The text.
    """
    label.setText(text)


def status_text(label: QtWidgets.QLabel) -> str:
    """The text of a status line as it was set.

    Parameters
    ----------
    label : QtWidgets.QLabel
        The status line.

    Returns
    -------
    text : str
        Without the wrap points :class:`StatusLabel` inserts.
    """
    return label.text()


def palette_combo() -> QtWidgets.QComboBox:
    """The palettes of :data:`.style.PALETTES`, the default first.

    Returns
    -------
    combo : QtWidgets.QComboBox
        One item per palette name.
    """
    combo = QtWidgets.QComboBox()
    combo.addItems(
        [style.DEFAULT_PALETTE] + [p for p in style.PALETTES if p != style.DEFAULT_PALETTE]
    )
    return combo


def legend_html(palette: str = style.DEFAULT_PALETTE) -> str:
    """The colours' meaning as rich text, each category in its colour.

    Parameters
    ----------
    palette : str
        Key of :data:`.style.PALETTES`.

    Returns
    -------
    html : str
        Qt rich text.
    """
    from html import escape

    rows = []
    for kind, (_, rgb) in style.PALETTES[palette].items():
        rows.append(
            f'<span style="color: #{bytes(rgb).hex()}; font-weight: bold">&#9632;</span> '
            f"{escape(style.MEANINGS[kind])}"
        )
    return (
        "; ".join(rows) + ". Thicker: higher probability (quartiles of the drawn pairs); "
        "the legend object name_key in the scene says the same."
    )


def structure_filter() -> str:
    """File-dialog filter of the structure files the core reads (its one suffix list).

    Returns
    -------
    filter : str
        ``Structures (*.pdb ...);;All files (*)``.
    """
    from esm_contacts.structure import STRUCTURE_SUFFIXES

    patterns = [
        f"*{suffix}{gz}" for suffix in STRUCTURE_SUFFIXES + (".pdb[0-9]",) for gz in ("", ".gz")
    ]
    return f"Structures ({' '.join(patterns)});;All files (*)"


def contact_file_filter() -> str:
    """File-dialog filter of the contact files the core reads (its format table).

    Returns
    -------
    filter : str
        :func:`esm_contacts.formats.file_dialog_filter` for reading.
    """
    return file_dialog_filter("read")


def form_row(*widgets) -> QtWidgets.QWidget:
    """Widgets side by side in one form row, the first one stretching.

    Parameters
    ----------
    *widgets : QtWidgets.QWidget
        The widgets, left to right.

    Returns
    -------
    row : QtWidgets.QWidget
        A widget holding them.
    """
    row = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    layout.setStretch(0, 1)
    return row


def file_row(parent, field, title: str, filters: str, save: bool = False) -> QtWidgets.QWidget:
    """``field`` (QLineEdit or editable QComboBox) with a Browse button that fills it
    (``save``: a file to write).

    Parameters
    ----------
    parent : QtWidgets.QWidget
        Parent of the file dialog.
    field : QtWidgets.QLineEdit or QtWidgets.QComboBox
        The field the chosen path goes to.
    title : str
        The file dialog's title.
    filters : str
        The file dialog's filter (``"Images (*.png);;All files (*)"``).
    save : bool
        Ask for a file to write rather than one to read.

    Returns
    -------
    row : QtWidgets.QWidget
        The field and its button.
    """
    fill = field.setText if isinstance(field, QtWidgets.QLineEdit) else field.setCurrentText

    def browse() -> None:
        ask = (
            QtWidgets.QFileDialog.getSaveFileName if save else QtWidgets.QFileDialog.getOpenFileName
        )
        path, _ = ask(parent, title, "", filters)
        if path:
            fill(path)

    button = QtWidgets.QPushButton("Browse...")
    button.clicked.connect(browse)
    return form_row(field, button)


def editable_combo(items, current: str = "") -> QtWidgets.QComboBox:
    """An editable combo box offering ``items``; ``current`` shown where given.

    Parameters
    ----------
    items : iterable of str
        The entries.
    current : str
        The text shown first; empty: the first entry.

    Returns
    -------
    combo : QtWidgets.QComboBox
        Editable.
    """
    combo = QtWidgets.QComboBox(editable=True)
    combo.addItems(list(items))
    if current:
        combo.setCurrentText(current)
    return combo


def model_combo() -> QtWidgets.QComboBox:
    """The known models, the default one shown; any name or checkpoint path may be typed.

    Returns
    -------
    combo : QtWidgets.QComboBox
        Editable, :func:`.commands.model_names`.
    """
    return editable_combo(commands.model_names(), commands.DEFAULT_MODEL)


def device_combo() -> QtWidgets.QComboBox:
    return editable_combo(["auto", "cpu", "cuda"])


def top_combo() -> QtWidgets.QComboBox:
    return editable_combo(commands.TOP_CHOICES)


def start_job(window, function: Callable, on_finish: Callable, *args) -> None:
    """Run ``function(*args, progress=...)`` in a worker thread for a dialog.

    The dialog (``_job``, ``run_button``, ``progress``, ``status``) shows the worker's
    stage messages, is busy and refuses another run until :func:`end_job`;
    ``on_finish((result, error))`` runs back in the GUI thread.

    Parameters
    ----------
    window : QtWidgets.QDialog
        The dialog.
    function : callable
        Runs in the worker thread; takes ``*args`` and a ``progress`` callback.
    on_finish : callable
        Called in the GUI thread with ``(result, error)``.
    *args : object
        Positional arguments of ``function``.
    """
    job = ProgressFunc(function)
    job.progressed.connect(window.status.setText)
    job.finished.connect(on_finish)
    window._job = job
    window.run_button.setEnabled(False)
    window.progress.setRange(0, 0)  # busy: the model gives no finer progress
    job(*args)


def end_job(window) -> None:
    """Back in the GUI thread: forget the worker (waiting for its thread) and make the
    dialog ready for the next run.

    Parameters
    ----------
    window : QtWidgets.QDialog
        The dialog :func:`start_job` started the worker for.
    """
    job, window._job = window._job, None
    window.run_button.setEnabled(True)
    window.progress.setRange(0, 1)
    if job is not None:
        job.wait()


def show_once(title: str, make: Callable, _self=cmd):
    """Open (or raise, refreshed) the one dialog called ``title``.

    Parameters
    ----------
    title : str
        The dialog's title, its key in the session.
    make : callable
        ``make(parent, _self=_self)`` builds the dialog.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    dialog : QtWidgets.QDialog
        The one dialog of that title, shown.
    """
    window = _DIALOGS.get(title)
    if window is None:
        window = _DIALOGS[title] = make(main_window(), _self=_self)
    else:
        window.refresh()
    window.show()
    window.raise_()
    window.activateWindow()
    return window


def show_error(parent, title: str, status: QtWidgets.QLabel, error: BaseException) -> None:
    """An error in a message box, the status line and PyMOL's log (traceback for bugs only).

    Parameters
    ----------
    parent : QtWidgets.QWidget
        Parent of the message box.
    title : str
        The message box's title.
    status : QtWidgets.QLabel
        The status line.
    error : BaseException
        The error; a CmdException is the user's, anything else a bug.
    """
    message = (
        error.message if isinstance(error, CmdException) else f"{type(error).__name__}: {error}"
    )
    if not isinstance(error, CmdException):
        traceback.print_exception(type(error), error, error.__traceback__)
    print(f" {title}: Error: {message}")
    set_status(status, f"Error: {message}")
    QtWidgets.QMessageBox.critical(parent, title, message)


class ContactsDialog(QtWidgets.QDialog):
    """Options, Run and Close; one prediction at a time.

    Parameters
    ----------
    parent : QtWidgets.QWidget or None
        The Qt parent (PyMOL's main window), or None.
    _self : pymol.cmd
        The PyMOL instance (cmd).
    """

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

        self.model = model_combo()
        self.model.setToolTip(
            "An ESM model name or .pt checkpoint to predict with, or a contact file "
            f"({', '.join(contact_suffixes('read'))}) to draw as it is"
        )
        form.addRow(
            "Model or contact file",
            file_row(self, self.model, "ESM checkpoint or contact file", MODEL_OR_CONTACT_FILES),
        )

        self.device = device_combo()
        form.addRow("Device", self.device)

        self.top = top_combo()
        form.addRow("Top", self.top)

        self.range = QtWidgets.QComboBox()
        self.range.addItems(list(drawing.RANGE_NAMES))
        form.addRow("Range", self.range)

        self.min_sep = QtWidgets.QSpinBox()
        self.min_sep.setRange(1, 10000)
        self.min_sep.setValue(6)
        self.min_sep.setToolTip(
            "Minimum sequence separation; choosing a range sets it to the range's lower bound"
        )
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
        form.addRow(
            "MSA",
            file_row(
                self,
                self.msa,
                "Multiple sequence alignment",
                "Alignments (*.a3m *.a2m *.fasta *.fa *.afa *.sto *.stk);;All files (*)",
            ),
        )

        self.num_seqs = QtWidgets.QSpinBox()
        self.num_seqs.setRange(1, 100000)
        self.num_seqs.setValue(64)
        form.addRow("MSA sequences", self.num_seqs)
        self.model.currentTextChanged.connect(self.model_changed)
        self.model_changed(self.model.currentText())

        self.assembly = QtWidgets.QLineEdit()
        self.assembly.setPlaceholderText(
            "optional: file or PDB ID (file:ID) whose assembly gives the partner copies"
        )
        self.assembly.setToolTip(
            "For a chain alone in its object: its biological assembly supplies the homodimer "
            "partner copies (drawn as name_partner). Empty: the object's own entry where PyMOL "
            "fetched it; 'none': off."
        )
        form.addRow(
            "Assembly",
            file_row(
                self, self.assembly, "Structure with a biological assembly", structure_filter()
            ),
        )

        self.name = QtWidgets.QLineEdit("esm")
        form.addRow("Group name", self.name)

        self.palette = palette_combo()
        self.palette.setToolTip(
            "Okabe-Ito: colour-blind safe, apart from PyMOL's default carbons; "
            "classic: green, red, magenta"
        )
        form.addRow("Colours", self.palette)

        self.plot = QtWidgets.QLineEdit()
        self.plot.setPlaceholderText(
            f"optional: also save the contact map ({', '.join(FIGURE_SUFFIXES)})"
        )
        form.addRow(
            "Plot", file_row(self, self.plot, "Save the contact map as", PLOT_FILES, save=True)
        )

        self.meaning = QtWidgets.QLabel(legend_html())
        self.meaning.setWordWrap(True)
        self.meaning.setSizePolicy(
            QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.MinimumExpanding
        )
        self.palette.currentTextChanged.connect(
            lambda palette: self.meaning.setText(legend_html(palette))
        )

        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = status_label("Ready")
        self.summary = QtWidgets.QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setLineWrapMode(QtWidgets.QPlainTextEdit.NoWrap)
        self.summary.setPlaceholderText("The summary of the last drawing")
        font = self.summary.font()
        font.setFamily("monospace")
        font.setStyleHint(font.Monospace)
        self.summary.setFont(font)
        self.summary.setMinimumHeight(90)

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
        layout.addWidget(self.meaning)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)

    def refresh(self) -> None:
        """Fill the chain picker from the session."""
        current = self.selection.currentText()
        self.selection.clear()
        self.selection.addItems(chain_choices(self._self))
        if current:
            self.selection.setCurrentText(current)

    def range_changed(self, name: str) -> None:
        """Start the separation at the range's lower bound (6 for all): never an empty range.

        Parameters
        ----------
        name : str
            The range chosen.
        """
        self.min_sep.setValue(RANGES[name][0] if name in RANGES else 6)

    def model_changed(self, name: str) -> None:
        """An MSA Transformer takes an alignment: the MSA field becomes required (see :meth:`run`).

        Parameters
        ----------
        name : str
            The model field's text.
        """
        from esm_contacts.catalog import takes_alignments

        required = takes_alignments(name)
        self.msa.setEnabled(True)
        self.msa.setPlaceholderText(
            ("required for the MSA Transformer" if required else "optional")
            + ": a3m, aligned FASTA or Stockholm"
        )

    # -- running ---------------------------------------------------------------------

    def options(self) -> drawing.Options:
        threshold = self.threshold.value()
        return drawing.parse_options(
            self.top.currentText(),
            self.min_sep.value(),
            self.range.currentText(),
            threshold if threshold > 0 else None,
            self.name.text(),
            self.plot.text(),
            _self=self._self,
            palette=self.palette.currentText(),
        )

    def run(self) -> None:
        """Check the input, then draw a contact file at once or predict in a worker thread."""
        if self._job is not None:
            return
        model = self.model.currentText().strip() or commands.DEFAULT_MODEL
        if commands.is_contact_file(model):
            self.load(model)
            return
        try:
            options = self.options()
            target = commands.prepare_target(
                self.selection.currentText(), self.assembly.text(), self._self
            )
        except Exception as error:  # noqa: BLE001 - every failure goes to the user
            self.fail(error)
            return
        msa = self.msa.text().strip() or None
        from esm_contacts.catalog import takes_alignments

        if not msa and takes_alignments(model):
            self.fail(
                CmdException(f"{model} is an MSA Transformer: choose an alignment in the MSA field")
            )
            return
        if msa:
            try:
                commands.check_msa_query(msa, target, options)
            except Exception as error:  # noqa: BLE001 - every failure goes to the user
                self.fail(error)
                return
        set_status(self.status, f"Starting {model} on {target.label}")
        start_job(
            self,
            commands.predict,
            lambda outcome: self.finish(outcome, target, options, msa),
            target.sequence,
            model,
            self.device.currentText().strip() or "auto",
            msa,
            self.num_seqs.value(),
        )

    def finish(self, outcome, target, options, msa) -> None:
        """Back in the GUI thread: draw, or report the worker's error.

        Parameters
        ----------
        outcome : tuple
            ``(result, error)`` of the worker; ``result`` as :func:`.commands.predict` returns it.
        target : Target
            The chain.
        options : drawing.Options
            Validated drawing options.
        msa : str or None
            The alignment predicted from.
        """
        try:
            end_job(self)
            result, error = outcome
            if error is None:
                P, sequence, model = result
                label = f"{model}, MSA {msa}" if msa else model
                drawn = commands.draw_prediction(
                    P,
                    sequence,
                    target,
                    options,
                    label,
                    source=f"the MSA {msa}" if msa else "the prediction",
                    _self=self._self,
                )
                self.drawn(drawn, options)
                return
        except Exception as draw_error:  # noqa: BLE001 - every failure goes to the user
            error = draw_error
        self.progress.setValue(0)
        self.fail(error)

    def load(self, path: str) -> None:
        """Draw a contact file on the chain (``esm_contacts_load``) in the GUI thread: no model
        runs.

        Parameters
        ----------
        path : str
            The contact file.
        """
        try:
            options = self.options()
            set_status(self.status, f"Drawing {path}")
            drawn = commands.load_file(
                path, self.selection.currentText(), options, self.assembly.text(), _self=self._self
            )
        except Exception as error:  # noqa: BLE001 - every failure goes to the user
            self.progress.setValue(0)
            self.fail(error)
            return
        self.drawn(drawn, options)

    def drawn(self, drawn: dict, options: drawing.Options) -> None:
        """A drawing is done: status line and the summary the log got.

        Parameters
        ----------
        drawn : dict
            As :func:`.commands.draw_prediction` returns it.
        options : drawing.Options
            The options it was drawn with.
        """
        self.progress.setValue(1)
        counts = drawn["counts"]
        set_status(
            self.status,
            f"Drew {options.name}: {counts['tp']} true, {counts['fp']} false, {counts['inter']}"
            f" homodimer contacts; precision at top {options.top} {drawn['precision']:.2f}",
        )
        self.summary.setPlainText(drawn["summary"].strip("\n"))

    def fail(self, error: BaseException) -> None:
        show_error(self, TITLE, self.status, error)


def show_dialog(_self=cmd) -> ContactsDialog:
    """Open (or raise) the dialog, with the chain picker refreshed.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    dialog : ContactsDialog
        The one Predict dialog of the session.
    """
    return show_once(TITLE, ContactsDialog, _self)


# -- the check dialog --------------------------------------------------------------

CHECK_TITLE = "Check model with ESM contacts"
#: The Chain combo's entry for atoms without a chain ID.
CHAIN_NONE = "(no chain ID)"


class CheckDialog(QtWidgets.QDialog):
    """Models to check, a contact file or a model to predict with, Run and Close.

    Parameters
    ----------
    parent : QtWidgets.QWidget or None
        The Qt parent (PyMOL's main window), or None.
    _self : pymol.cmd
        The PyMOL instance (cmd).
    """

    def __init__(self, parent=None, _self=cmd):
        super().__init__(parent)
        self._self = _self
        self._job = None
        self.setObjectName("esm_contacts_check_dialog")
        self.setWindowTitle(CHECK_TITLE)
        form = QtWidgets.QFormLayout(self)
        self.selection = QtWidgets.QLineEdit()
        self.selection.setToolTip(
            "PyMOL selection: the objects to check (one protein chain of each, picked with Chain)"
        )
        self.chain = QtWidgets.QComboBox()
        self.chain.setToolTip(
            "The chain to check in each object (filled from the objects of Models)"
        )
        self.selection.editingFinished.connect(self.fill_chains)
        self.prediction = QtWidgets.QLineEdit()
        self.prediction.setPlaceholderText(
            "contact file (.rr, .csv, .npy, ...); empty: predict with the model"
        )
        self.model = model_combo()
        self.device = device_combo()
        self.top = top_combo()
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1)
        self.status = status_label("")
        self.meaning = QtWidgets.QLabel(
            'Colours: <span style="color: rgb(220,0,0); font-weight: bold">red</span> predicted'
            ' contacts not satisfied (support 0), white half, <span style="color: rgb(0,0,230);'
            ' font-weight: bold">blue</span> satisfied (support 1), <span style="color:'
            ' rgb(102,102,102); font-weight: bold">dark grey</span> no predicted contact; the'
            " legend object esm_check_key in the scene says the same."
        )
        self.meaning.setWordWrap(True)
        self.meaning.setSizePolicy(
            QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.MinimumExpanding
        )
        form.addRow("Models", self.selection)
        form.addRow("Chain", self.chain)
        form.addRow(
            "Predicted contacts",
            file_row(self, self.prediction, "Predicted contacts", contact_file_filter()),
        )
        form.addRow("or model", file_row(self, self.model, "ESM checkpoint", CHECKPOINT_FILES))
        form.addRow("Device", self.device)
        form.addRow("Top", self.top)
        form.addRow(self.meaning)
        form.addRow(self.progress)
        form.addRow(self.status)
        buttons = QtWidgets.QDialogButtonBox()
        self.run_button = buttons.addButton("Run", QtWidgets.QDialogButtonBox.AcceptRole)
        close = buttons.addButton("Close", QtWidgets.QDialogButtonBox.RejectRole)
        self.run_button.clicked.connect(self.run)
        close.clicked.connect(self.hide)
        form.addRow(buttons)
        self.refresh()

    def refresh(self) -> None:
        objects = self._self.get_object_list("polymer.protein") or []
        if not self.selection.text().strip():
            self.selection.setText(" or ".join(f"%{obj}" for obj in objects))
        self.fill_chains()

    def fill_chains(self) -> None:
        """The protein chains of the objects in Models, the current one kept where it still
        exists."""
        current = self.chain.currentText()
        text = self.selection.text().strip()
        try:
            chains = self._self.get_chains(f"({text}) and polymer.protein") if text else []
        except Exception:  # noqa: BLE001 - a selection being typed: no chains yet
            chains = []
        self.chain.clear()
        self.chain.addItems([c if c else CHAIN_NONE for c in chains or []])
        if current in chains:
            self.chain.setCurrentText(current)

    def checked_selection(self) -> str:
        """Models restricted to the chosen chain.

        Returns
        -------
        selection : str
            The Models field's selection and the chosen chain.
        """
        selection = self.selection.text().strip()
        chain = self.chain.currentText()
        if not selection or not chain:
            return selection
        if chain == CHAIN_NONE:
            return f"({selection}) and chain ''"
        return f"({selection}) and chain {chain}"

    def run(self) -> None:
        """A contact file is checked at once; a model predicts in a worker thread first."""
        if self._job is not None:
            return
        self.fill_chains()
        selection = self.checked_selection()
        prediction = self.prediction.text().strip()
        try:
            if prediction:
                results = check.esm_contacts_check(
                    selection, prediction, self.top.currentText(), _self=self._self
                )
                self.done_message(results)
                return
            options = drawing.parse_options(
                self.top.currentText(), name="esm_check", _self=self._self
            )
            targets = check.targets_of(selection, self._self)
        except Exception as error:  # noqa: BLE001 - every failure goes to the user
            self.fail(error)
            return
        model = self.model.currentText().strip() or commands.DEFAULT_MODEL
        start_job(
            self,
            check.predict_for_targets,
            lambda outcome: self.finish(outcome, targets, options),
            model,
            targets,
            self.device.currentText().strip() or "auto",
        )

    def finish(self, outcome, targets, options) -> None:
        """Back in the GUI thread: check against the prediction, or report the worker's error.

        Parameters
        ----------
        outcome : tuple
            ``(result, error)`` of the worker.
        targets : list of Target
            The models.
        options : drawing.Options
            Validated options.
        """
        try:
            end_job(self)
            result, error = outcome
            if error is None:
                P, sequence, model = result
                self.done_message(
                    check.check_targets(P, sequence, model, targets, options, _self=self._self)
                )
                return
        except Exception as check_error:  # noqa: BLE001 - every failure goes to the user
            error = check_error
        self.fail(error)

    def done_message(self, results) -> None:
        self.progress.setValue(1)
        best = max(results, key=lambda r: r.agreement if r.agreement == r.agreement else -1)
        hints = sum(len(r.hints) for r in results)
        set_status(
            self.status,
            f"Checked {len(results)} model(s); best {best.name} (agreement "
            f"{best.agreement:.2f}); {hints} register-shift hint(s); table in the log",
        )

    def fail(self, error: BaseException) -> None:
        self.progress.setValue(0)
        show_error(self, CHECK_TITLE, self.status, error)


def show_check_dialog(_self=cmd) -> CheckDialog:
    """*Plugin > Check model with ESM contacts*: open (or raise) the check dialog.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance the dialog works on.

    Returns
    -------
    dialog : CheckDialog
        The one check dialog of the session, shown with its models refreshed.
    """
    return show_once(CHECK_TITLE, CheckDialog, _self)
