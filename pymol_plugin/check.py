"""``esm_contacts_check``: does a model agree with its predicted contacts? Residue by residue.

The scoring is the core's :func:`esm_contacts.validate.validate`; this module reads the
selected objects, colours each residue by its support (red: its predicted contacts are
not satisfied, blue: they are; grey: no predicted contact, no evidence), writes the
support into the b-factor column, makes a selection of the residues in register-shift
hint windows and prints the report; with several objects, the ranked table.
"""

from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from pymol import CmdException, cmd

from . import commands, drawing
from .target import Target, load_target

#: b-factor written for residues without predicted contacts (no evidence either way).
NO_EVIDENCE = -1.0
CONTACT_SUFFIXES = (".rr", ".casp", ".csv", ".npy")


def _targets(selection: str, _self) -> List[Target]:
    """One target per object of the selection (each must hold one protein chain)."""
    objects = _self.get_object_list(f"({selection}) and polymer.protein") or []
    if not objects:
        raise CmdException(f"selection {selection!r} holds no protein atoms")
    return [load_target(f"({selection}) and %{obj}", _self) for obj in objects]


def _is_contact_file(text: str) -> bool:
    return Path(text).suffix.lower() in CONTACT_SUFFIXES


def _prediction(source: str, targets: List[Target], device: str) -> Tuple[np.ndarray, Optional[str], str]:
    """(P, sequence of P or None, label) from a contact file, or predicted with a model."""
    if _is_contact_file(source):
        from esm_contacts.io import read_contacts

        try:
            P, sequence = read_contacts(source)
        except (OSError, ValueError) as error:
            raise CmdException(str(error)) from None
        return P, sequence, Path(source).name
    # A model: predict the first object's sequence; the others are aligned to it.
    P, msa_query, model = commands.predict(targets[0].sequence, source, device)
    return P, msa_query or targets[0].sequence, model


def _structure_index(result_length: int, sequence: Optional[str], target: Target) -> np.ndarray:
    """Residue index of the target chain for every position of the map (-1: none)."""
    if sequence is None:
        return np.arange(result_length)
    from esm_contacts.structure import map_sequence

    return map_sequence(sequence, target.structure, target.chain)


def _apply(result, index: np.ndarray, target: Target, name: str, _self) -> int:
    """Write support into b, colour, and select hinted residues; returns the residues hinted."""
    values = {}
    hinted = set()
    hint_positions = {k for h in result.hints for k in range(h.start - 1, h.end)}
    for position, residue in enumerate(index):
        if residue < 0:
            continue
        chain, res_id, ins_code, _ = target.residues[residue]
        key = (chain, f"{res_id}{ins_code.strip()}")
        support = result.support[position]
        values[key] = NO_EVIDENCE if np.isnan(support) else float(support)
        if position in hint_positions:
            hinted.add(key)
    scope = f"%{target.object} and chain {target.chain}" if target.chain else f"%{target.object}"
    _self.alter(scope, "b = values.get((chain, resi), b)", space={"values": values})
    _self.color("grey70", f"({scope}) and b < 0")
    _self.spectrum("b", "red_white_blue", f"({scope}) and b > -0.5", minimum=0.0, maximum=1.0)
    if hinted:
        residues = " or ".join(f"(chain {c} and resi \\{r})" if c else f"resi \\{r}" for c, r in sorted(hinted))
        _self.select(f"{name}_hints", f"%{target.object} and ({residues})", enable=0, merge=1)
    return len(hinted)


def esm_contacts_check(selection, pred="esm1b_t33_650M_UR50S", top="L", name="esm_check", min_sep=6,
                       threshold="", device="auto", *, _self=cmd):
    """
DESCRIPTION

    "esm_contacts_check" scores structure models against predicted contacts: the
    fraction of the top predicted contacts each model satisfies (Cb-Cb < 8 A), per
    residue a support score (probability-weighted fraction of the residue's
    predicted contacts that the model satisfies), and register-shift hints (windows
    that fit the prediction clearly better renumbered by +-1..+-4). Residues are
    coloured red (unsupported) to blue (supported), grey without predicted contacts;
    the support is also written to the b-factor column (-1: no evidence), and hinted
    residues go into the selection name_hints. With several objects selected (one
    chain each, same protein) the models are ranked.

USAGE

    esm_contacts_check selection [, pred [, top [, name [, min_sep [, threshold [, device ]]]]]]

ARGUMENTS

    selection = str: one protein chain in each object to check
    pred = str: a contact file (.rr, .csv, .npy) or an ESM model name or .pt to predict
           with {default: esm1b_t33_650M_UR50S}
    top = str: predicted contacts to use: L, L/2, L/5, a number or all {default: L}
    name = str: prefix of the hint selection {default: esm_check}
    min_sep = int: minimum sequence separation {default: 6}
    threshold = float: only pairs with probability >= threshold {default: none}

EXAMPLES

    esm_contacts_check model1 or model2, prediction.rr
    esm_contacts_check 1a3a and chain A, esm1b_t33_650M_UR50S, top=L/2

SEE ALSO

    esm_contacts, esm_contacts_load
    """
    options = drawing.parse_options(top, min_sep, "all", threshold, name, None, _self=_self)
    targets = _targets(selection, _self)
    source = str(pred).strip() or commands.DEFAULT_MODEL
    P, sequence, label = _prediction(source, targets, str(device).strip() or "auto")
    return check_targets(P, sequence, label, targets, options, _self=_self)


def check_targets(P: np.ndarray, sequence: Optional[str], label: str, targets: List[Target],
                  options: drawing.Options, *, _self=cmd) -> list:
    """Score each target against a map, then colour, select hints and print (main thread).

    Every model is scored before the session is touched, so an error leaves it as it was.
    """
    from esm_contacts.validate import format_ranking, format_validation, validate

    top_value = int(options.top) if options.top.isdigit() else options.top
    results, indices = [], []
    for target in targets:
        try:
            result = validate(P, target.structure, target.chain, top=top_value, min_sep=options.min_sep,
                              threshold=options.threshold, sequence=sequence, name=target.object)
            index = _structure_index(len(P), sequence, target)
        except ValueError as error:
            raise CmdException(f"{target.label}: {error}") from None
        results.append(result)
        indices.append(index)
    if f"{options.name}_hints" in _self.get_names("selections"):
        _self.delete(f"{options.name}_hints")
    for result, index, target in zip(results, indices, targets):
        _apply(result, index, target, options.name, _self)
        print(f" esm_contacts_check: {target.label} against {label}")
        print(format_validation(result, residues=False))
    if len(results) > 1:
        print(format_ranking(results))
    return results


def register(_self=cmd) -> None:
    """Add ``esm_contacts_check`` with selection and model completion."""
    _self.extend("esm_contacts_check", esm_contacts_check)
    completions = ([lambda: _self.selection_sc(), "selection", ", "], [commands._model_names, "prediction", ", "])
    for position, completion in enumerate(completions):
        while position >= len(_self.auto_arg):
            _self.auto_arg.append({})
        _self.auto_arg[position]["esm_contacts_check"] = completion


#: The running prediction of the menu entry (kept so Qt does not collect it mid-run).
_job = None


def show_dialog(_self=cmd):
    """*Plugin > Check model with ESM contacts*: pick objects and a prediction, then check.

    A contact file is checked at once; without one, ESM-1b predicts in a worker thread
    (PyMOL's ``AsyncFunc``) and the check runs when it reports, so the GUI stays live.
    """
    global _job
    from pymol.Qt import QtWidgets

    from .dialog import ProgressFunc

    title = "Check model with ESM contacts"
    objects = _self.get_object_list("polymer.protein") or []
    if not objects:
        QtWidgets.QMessageBox.information(None, title, "Load a protein structure first.")
        return None
    if _job is not None:
        QtWidgets.QMessageBox.information(None, title, "A check is already running.")
        return None
    selection, ok = QtWidgets.QInputDialog.getText(
        None, title, "Models (PyMOL selection, one chain per object):", text=" or ".join(f"%{obj}" for obj in objects))
    if not ok or not selection.strip():
        return None
    path, _ = QtWidgets.QFileDialog.getOpenFileName(
        None, "Predicted contacts (cancel: predict with ESM-1b)", "", "Contact files (*.rr *.casp *.csv *.npy);;All files (*)")

    def fail(error):
        message = error.message if isinstance(error, CmdException) else f"{type(error).__name__}: {error}"
        print(f" {title}: Error: {message}")
        QtWidgets.QMessageBox.critical(None, title, message)

    try:
        if path:
            return esm_contacts_check(selection, path, _self=_self)
        options = drawing.parse_options(_self=_self, name="esm_check")
        targets = _targets(selection, _self)
    except CmdException as error:
        fail(error)
        return None

    def finished(outcome):
        global _job
        (result, error), job = outcome, _job
        _job = None
        job.wait()
        if error is None:
            P, query, model = result
            try:
                check_targets(P, query or targets[0].sequence, model, targets, options, _self=_self)
                return
            except CmdException as check_error:
                error = check_error
        fail(error)

    _job = ProgressFunc(commands.predict)
    _job.progressed.connect(lambda stage: print(f" {title}: {stage}"))
    _job.finished.connect(finished)
    _job(targets[0].sequence, commands.DEFAULT_MODEL, "auto")
    return None
