"""``esm_contacts_check``: does a model agree with its predicted contacts? Residue by residue.

The scoring is the core's :func:`esm_contacts.validation.validate`; this module reads the
selected objects, colours each residue by its support (red: its predicted contacts are
not satisfied, blue: they are; dark grey: no predicted contact, no evidence; the legend
object ``<name>_key`` says so in the viewer and in images), writes the
support into the b-factor column, makes a selection of the residues in register-shift
hint windows and prints the report; with several objects, the ranked table.
"""

from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy as np
from pymol import CmdException, cmd

from esm_contacts.metrics import MIN_SEP

from . import commands, drawing
from .legend import CHECK_MEANING, CHECK_NO_EVIDENCE_COLOR, CHECK_SPECTRUM, check_legend
from .target import Target, load_target

#: b-factor written for residues without predicted contacts (no evidence either way).
NO_EVIDENCE = -1.0


def targets_of(selection: str, _self) -> List[Target]:
    """One target per object of the selection (each must hold one protein chain).

    Parameters
    ----------
    selection : str
        A PyMOL selection; each of its objects must hold one protein chain in it.
    _self : pymol.cmd
        The PyMOL instance.

    Returns
    -------
    targets : list of Target
        One per object, in PyMOL's object order.
    """
    objects = _self.get_object_list(f"({selection}) and polymer.protein") or []
    if not objects:
        raise CmdException(f"selection {selection!r} holds no protein atoms")
    return [load_target(f"({selection}) and %{obj}", _self) for obj in objects]


def _prediction(
    source: str, targets: List[Target], device: str
) -> Tuple[np.ndarray, Optional[str], str]:
    """(P, sequence of P or None, label) from a contact file, or predicted with a model."""
    if commands.is_contact_file(source):
        from esm_contacts.io import read_contacts

        try:
            P, sequence = read_contacts(source)
        except (OSError, ValueError) as error:
            raise CmdException(str(error)) from None
        return P, sequence, Path(source).name
    return predict_for_targets(source, targets, device)


def predict_for_targets(
    model: str, targets: List[Target], device: str, progress: Optional[Callable[[str], None]] = None
) -> Tuple[np.ndarray, str, str]:
    """Predict the map the targets are checked against; safe to run in a worker thread.

    Parameters
    ----------
    model : str
        An ESM model name or checkpoint (:func:`.commands.predict`).
    targets : list of Target
        The models to check; the first one's sequence is predicted (the others are
        aligned to it when scored).
    device : str
        ``auto``, ``cpu``, ``cuda`` ...
    progress : callable, optional
        Called with stage messages.

    Returns
    -------
    P : numpy.ndarray, shape=(L, L)
        Probabilities.
    sequence : str
        The map's sequence (the MSA query, else the first target's sequence).
    name : str
        The model's name.
    """
    P, msa_query, name = commands.predict(targets[0].sequence, model, device, progress=progress)
    return P, msa_query or targets[0].sequence, name


def _structure_index(
    result_length: int,
    sequence: Optional[str],
    target: Target,
    min_identity: Optional[float] = None,
) -> np.ndarray:
    """Residue index of the target chain for every position of the map (-1: none)."""
    if sequence is None:
        return np.arange(result_length)
    from esm_contacts.structure import MIN_IDENTITY, map_sequence

    return map_sequence(
        sequence,
        target.structure,
        target.chain,
        min_identity=MIN_IDENTITY if min_identity is None else min_identity,
    )


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
    # Only the chain's protein atoms: ligands and waters keep their B and colour; residues
    # not scored (outside a partial selection) become "no evidence", not stale B values.
    chain = f" and chain {target.chain}" if target.chain else ""
    scope = f"%{target.object}{chain} and polymer.protein"
    _self.alter(
        scope,
        "b = values.get((chain, resi), no_evidence)",
        space={"values": values, "no_evidence": NO_EVIDENCE},
    )
    _self.color(CHECK_NO_EVIDENCE_COLOR, f"({scope}) and b < 0")
    _self.spectrum("b", CHECK_SPECTRUM, f"({scope}) and b > -0.5", minimum=0.0, maximum=1.0)
    if hinted:
        residues = " or ".join(
            f"(chain {c} and resi \\{r})" if c else f"resi \\{r}" for c, r in sorted(hinted)
        )
        _self.select(f"{name}_hints", f"%{target.object} and ({residues})", enable=0, merge=1)
    return len(hinted)


def esm_contacts_check(
    selection,
    pred=commands.DEFAULT_MODEL,
    top="L",
    name="esm_check",
    min_sep=MIN_SEP,
    threshold="",
    device="auto",
    min_identity="",
    *,
    _self=cmd,
):
    """
    DESCRIPTION

        "esm_contacts_check" scores structure models against predicted contacts: the
        fraction of the top predicted contacts each model satisfies (Cb-Cb < 8 A), per
        residue a support score (probability-weighted fraction of the residue's
        predicted contacts that the model satisfies), and register-shift hints (windows
        that fit the prediction clearly better renumbered by +-1..+-4). Residues are
        coloured red (unsupported) to blue (supported), dark grey without predicted
        contacts, and a legend object (name_key, beside the first model) says so; the
        support is also written to the b-factor column (-1: no evidence), and hinted
        residues go into the selection name_hints. With several objects selected (one
        chain each, same protein) the models are ranked. esm_contacts_clear name
        removes the legend.

    USAGE

        esm_contacts_check selection [, pred [, top [, name [, min_sep [, threshold [, device
            [, min_identity ]]]]]]]

    Parameters
    ----------
    selection : str
        One protein chain in each object to check.
    pred : str
        A contact file (.rr, .csv, .npy, .psicov, .mat, ...: any readable contact
        format) or an ESM model name or .pt to predict with
        {default: esm1b_t33_650M_UR50S}.
    top : str
        Predicted contacts to use: L, L/2, L/5, a number or all {default: L}.
    name : str
        Prefix of the hint selection and the legend {default: esm_check}.
    min_sep : str or int
        Minimum sequence separation {default: 6}.
    threshold : str or float
        Only pairs with probability >= threshold {default: none}.
    device : str
        auto, cpu, cuda, cuda:1 ... {default: auto}.
    min_identity : str or float
        Identity over aligned positions from which the prediction's sequence counts
        as each model's protein {default: 0.9}; another protein is an error, never
        a score.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    results : list of esm_contacts.validation.Validation
        From Python: one validation per model, in the order of the selection's objects.

    Raises
    ------
    pymol.CmdException
        A bad argument, a selection that is not one protein chain per object, an
        unreadable file, a model that cannot be loaded, or a prediction of another
        protein; the session is left as it was.

    Examples
    --------

        esm_contacts_check model1 or model2, prediction.rr
        esm_contacts_check 1a3a and chain A, esm1b_t33_650M_UR50S, top=L/2

    See Also
    --------
    esm_contacts, esm_contacts_load
    """
    options = drawing.parse_options(
        top, min_sep, "all", threshold, name, None, _self=_self, min_identity=min_identity
    )
    targets = targets_of(selection, _self)
    source = str(pred).strip() or commands.DEFAULT_MODEL
    P, sequence, label = _prediction(source, targets, str(device).strip() or "auto")
    return check_targets(P, sequence, label, targets, options, _self=_self)


def check_targets(
    P: np.ndarray,
    sequence: Optional[str],
    label: str,
    targets: List[Target],
    options: drawing.Options,
    *,
    _self=cmd,
) -> list:
    """Score each target against a map, then colour, select hints and print (main thread).

    Every model is scored before the session is touched, so an error leaves it as it was.

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) predicted probabilities.
    sequence : str or None
        The map's sequence; None: its size says what it is indexed by.
    label : str
        The prediction's source, for the log.
    targets : list of Target
        One chain per model.
    options : drawing.Options
        Validated options (``top``, ``min_sep``, ``threshold``, ``name``, ``min_identity``).
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    results : list of esm_contacts.validation.Validation
        One per target, in order.

    Raises
    ------
    pymol.CmdException
        A map that does not fit a target (``<label>: <problem>``).
    """
    from esm_contacts.structure import sequence_of_map
    from esm_contacts.validation import format_ranking, format_validation, validate

    results, indices = [], []
    for target in targets:
        try:
            # A map without a sequence (.npy): its size says what it is indexed by (as the CLI).
            indexed_by = (
                sequence
                if sequence is not None
                else sequence_of_map(len(P), target.structure, target.chain)
            )
            result = validate(
                P,
                target.structure,
                target.chain,
                top=options.top,
                min_sep=options.min_sep,
                threshold=options.threshold,
                sequence=indexed_by,
                name=target.object,
                min_identity=options.min_identity,
            )
            index = _structure_index(len(P), indexed_by, target, options.min_identity)
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
    check_legend(options.name, targets[0], _self)  # beside the first model
    print(f" esm_contacts_check colours: {CHECK_MEANING}; legend {options.name}_key")
    if len(results) > 1:
        print(format_ranking(results))
    return results


def register(_self=cmd) -> None:
    """Add ``esm_contacts_check`` with selection completion.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).
    """
    # Position 1 (pred) is usually a contact file: left to PyMOL's file-name completion.
    commands.add_command(
        _self, "esm_contacts_check", esm_contacts_check, (commands.selection_completion(_self),)
    )
