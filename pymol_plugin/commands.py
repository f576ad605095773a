"""PyMOL commands: ``esm_contacts``, ``esm_contacts_load``, ``esm_contacts_clear``,
``esm_contacts_pairs`` and ``esm_contacts_map``.

Every command argument arrives as a string; all of them are checked before anything is
loaded or drawn. Errors are raised as :class:`pymol.CmdException` with a message that
names the problem, and leave the session as it was.
"""

import threading
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from pymol import CmdException, cmd

from esm_contacts.catalog import DEFAULT_MODEL, KNOWN_MODELS
from esm_contacts.metrics import TOPS

from . import drawing, registry, style
from .target import Target, attach_assembly, find_assembly, load_target
from .window import gui_running, qt_running

#: Loaded predictors by (model, device); a model loads once per PyMOL session.
_PREDICTORS: Dict[Tuple[str, str], object] = {}
_PREDICTORS_LOCK = threading.Lock()


def get_predictor(model: str, device: str = "auto"):
    """A cached :class:`esm_contacts.ContactPredictor`; errors become CmdException.

    Parameters
    ----------
    model : str
        fair-esm model name or path of a ``.pt`` checkpoint.
    device : str
        ``auto``, ``cpu``, ``cuda``, ``cuda:1`` ...

    Returns
    -------
    predictor : esm_contacts.ContactPredictor
        Loaded once per (model, device) and PyMOL session.

    Raises
    ------
    pymol.CmdException
        The model cannot be loaded (unknown name, missing file, bad device).
    """
    key = (str(model), str(device))
    with _PREDICTORS_LOCK:
        if key not in _PREDICTORS:
            from esm_contacts.predictor import ContactPredictor

            try:
                _PREDICTORS[key] = ContactPredictor.from_pretrained(key[0], device=key[1])
            except (FileNotFoundError, ValueError, KeyError, RuntimeError) as error:
                message = error.args[0] if isinstance(error, KeyError) and error.args else error
                raise CmdException(f"cannot load model {model!r}: {message}") from None
        return _PREDICTORS[key]


def parse_num_seqs(num_seqs) -> int:
    """``num_seqs`` as an integer >= 1 (the check of ``esm-contacts predict --num-seqs``).

    Parameters
    ----------
    num_seqs : str or int
        The option as given.

    Returns
    -------
    count : int
        The number of MSA sequences, >= 1.

    Raises
    ------
    pymol.CmdException
        Not a whole number >= 1.
    """
    return drawing.checked_option("count", "num_seqs", num_seqs)


def predict(
    sequence: str,
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    msa: Optional[str] = None,
    num_seqs: int = 64,
    progress: Optional[Callable[[str], None]] = None,
) -> Tuple[np.ndarray, Optional[str], str]:
    """Predict the contacts of a sequence or an MSA; safe to run in a worker thread.

    Parameters
    ----------
    sequence : str
        The target's sequence (unused when ``msa`` is given).
    model : str
        fair-esm model name or path of a ``.pt`` checkpoint.
    device : str
        ``auto``, ``cpu``, ``cuda``, ``cuda:1`` ...
    msa : str or None
        Path of an alignment to ensemble over; None: predict ``sequence`` alone.
    num_seqs : int
        MSA sequences to use.
    progress : callable or None
        Called with a short text per stage (loading, predicting); None: silent.

    Returns
    -------
    P : numpy.ndarray
        (L, L) probabilities.
    sequence : str or None
        The MSA's query when ``msa`` is given (the map's index space), else None (the
        map is indexed like ``sequence``).
    model : str
        The model's name.

    Raises
    ------
    pymol.CmdException
        The model cannot be loaded, or the sequence or MSA is refused.
    """
    report = progress or (lambda stage: None)
    report(f"loading {model}")
    predictor = get_predictor(model, device)
    try:
        if msa:
            from esm_contacts.msa import read_msa

            alignment = read_msa(msa)
            report(f"predicting {min(num_seqs, len(alignment))} MSA sequences")
            P = predictor.predict_msa(alignment, num_seqs=num_seqs)
            return P, alignment[0][1], predictor.name
        report(f"predicting {len(sequence)} residues")
        return predictor.predict(sequence), None, predictor.name
    except (FileNotFoundError, ValueError) as error:
        raise CmdException(str(error)) from None


#: ``assembly`` values that turn the automatic assembly look-up off.
NO_ASSEMBLY = ("none", "off", "no", "0")


def prepare_target(selection, assembly="", _self=cmd) -> Target:
    """:func:`load_target`, then the partner copies of a chain alone in its object.

    ``assembly``: a structure file or PDB ID (``"path:ID"`` picks the assembly) whose
    biological assembly supplies the partners; empty: the object's own entry where a
    local file of it is found (quietly nothing otherwise); ``none``: no assembly.

    Parameters
    ----------
    selection : str
        One protein chain of one object.
    assembly : str
        A structure file or PDB ID, empty (automatic) or ``none``.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    target : Target
        The chain, with its assembly partners attached where any were found.

    Raises
    ------
    pymol.CmdException
        A selection that is not one protein chain, or an assembly that cannot be read.
    """
    target = load_target(selection, _self)
    spec = "" if assembly is None else str(assembly).strip()
    if spec.lower() in NO_ASSEMBLY:
        return target
    if spec:
        attach_assembly(target, spec, _self)
    else:
        find_assembly(target, _self)
    return target


def esm_contacts(
    selection,
    model=DEFAULT_MODEL,
    top="L",
    min_sep=None,
    range="all",
    threshold="",
    msa="",
    num_seqs=64,
    name="esm",
    device="auto",
    plot="",
    assembly="",
    min_identity="",
    palette="",
    legend="",
    map="",
    *,
    _self=cmd,
):
    """
    DESCRIPTION

        "esm_contacts" predicts residue-residue contacts of one protein chain with an ESM
        model and draws them on the structure, in a colour-blind-safe palette: sky-blue
        dashes for contacts the structure has (Cb-Cb < 8 A), vermillion for those it lacks,
        reddish purple for those it has only with another chain of the same sequence
        (homodimer). Thicker dashes mean higher probability (quartiles of the drawn
        probabilities); a legend object name_key says so in the viewer. A summary goes to the log,
        with the precision at the top pairs
        (pairs of known truth ranked, divided by floor(L/k), as esm-contacts evaluate).

        From the command line the model loads and predicts on PyMOL's main thread: the
        window does not respond until it is done. Plugin > Predict ESM contacts runs the
        prediction in the background and keeps the GUI responsive.

    USAGE

        esm_contacts selection [, model [, top [, min_sep [, range [, threshold
            [, msa [, num_seqs [, name [, device [, plot [, assembly [, min_identity
            [, palette [, legend [, map ]]]]]]]]]]]]]]]

    Parameters
    ----------
    selection : str
        One protein chain of one object (a part of a chain is fine).
    model : str
        fair-esm model name or path of a .pt checkpoint {default: esm1b_t33_650M_UR50S}.
    top : str
        Pairs to draw: L, L/2, L/5, a number or all {default: L}.
    min_sep : str or int
        Minimum sequence separation {default: 6; with a range, the range's own lower
        bound: local 3, short 6, medium 12, long 24}; a given min_sep narrows the range
        from below (an error when it leaves nothing, e.g. range=local, min_sep=6).
    range : str
        all, local (3-5), short (6-11), medium (12-23) or long (24+) {default: all}.
    threshold : str or float
        Only pairs with probability >= threshold {default: none}.
    msa : str
        Alignment (a3m, aligned FASTA, Stockholm) to ensemble over.
    num_seqs : str or int
        MSA sequences to use {default: 64}.
    name : str
        Name of the group of distance objects {default: esm}.
    device : str
        auto, cpu, cuda, cuda:1 ... {default: auto}.
    plot : str
        Also save a contact-map image (.png, .svg or .pdf).
    assembly : str
        For a chain alone in its object, a structure file or PDB ID whose biological
        assembly supplies the homodimer partner copies ("file:2" picks assembly 2);
        drawn as the object name_partner {default: the object's own entry where
        PyMOL fetched it; none: off}.
    min_identity : str or float
        Identity over aligned positions from which the MSA query (or a file's
        sequence) counts as the selection's protein {default: 0.9}; lower it only
        on purpose.
    palette : str
        okabe-ito or classic {default: okabe-ito}.
    legend : str
        1 or 0: draw the legend object name_key and zoom to show it {default: 1}.
    map : str
        0/1: open the linked contact-map panel after drawing (esm_contacts_map)
        {default: 1 in PyMOL's window, 0 without a GUI}.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    result : dict
        From Python: the drawing's ``name``, its ``objects``, ``counts`` per category,
        ``precision`` and the ``summary`` text (:func:`pymol_plugin.drawing.draw`).

    Raises
    ------
    pymol.CmdException
        A bad argument, a selection that is not one protein chain, an MSA of another
        protein or a model that cannot be loaded; the session is left as it was.

    Examples
    --------

        fetch 1hvr
        esm_contacts 1hvr and chain A
        esm_contacts 1hvr and chain A, top=L/2, range=long, name=esm_long
        esm_contacts 1hvr and chain A, range=local, name=esm_local
        esm_contacts mono and chain A, assembly=1a8o.cif

    See Also
    --------
    esm_contacts_load, esm_contacts_clear, esm_contacts_color, esm_contacts_map, esm_contacts_pairs
    """
    options = drawing.parse_options(
        top,
        min_sep,
        range,
        threshold,
        name,
        plot,
        _self=_self,
        min_identity=min_identity,
        palette=palette,
        legend=legend,
    )
    show_map = parse_map(map)
    count = parse_num_seqs(num_seqs)
    msa = str(msa).strip() or None
    target = prepare_target(selection, assembly, _self)
    if msa:
        check_msa_query(msa, target, options)
    P, sequence, model_name = predict(
        target.sequence,
        str(model).strip() or DEFAULT_MODEL,
        str(device).strip() or "auto",
        msa,
        count,
    )
    return draw_prediction(
        P,
        sequence,
        target,
        options,
        model_name if not msa else f"{model_name}, MSA {msa}",
        source=f"the MSA {msa}" if msa else "the prediction",
        map=show_map,
        _self=_self,
    )


def parse_map(value, option: str = "map") -> Optional[bool]:
    """A switch option: PyMOL's booleans (1/0, on/off, yes/no, true/false); empty: None (automatic).

    Parameters
    ----------
    value : str, bool, int or None
        The option as given.
    option : str
        The option's name, for the error message.

    Returns
    -------
    switch : bool or None
        True or False; None for an empty value or ``auto``.

    Raises
    ------
    pymol.CmdException
        A value that is not one of PyMOL's booleans.
    """
    text = "" if value is None else str(value).strip().lower()
    if text in ("", "auto"):
        return None
    if text not in cmd.boolean_dict:
        raise CmdException(f"{option} must be 1 or 0 (on/off, yes/no), got {value!r}")
    return bool(cmd.boolean_dict[text])


def check_msa_query(msa: str, target: Target, options: drawing.Options) -> None:
    """Refuse an MSA whose query is another protein than the target, before any prediction.

    Parameters
    ----------
    msa : str
        Path of the alignment; its first sequence is the query.
    target : Target
        The chain the prediction is for.
    options : drawing.Options
        The drawing options (``min_identity`` is used).

    Raises
    ------
    pymol.CmdException
        An unreadable MSA, or a query that is not the target's protein.
    """
    from esm_contacts.msa import read_msa

    try:
        query = read_msa(msa)[0][1]
    except (OSError, ValueError) as error:
        raise CmdException(str(error)) from None
    drawing.map_file_sequence(query, target, f"the MSA {msa}", options.min_identity)


def draw_prediction(
    P,
    sequence,
    target: Target,
    options: drawing.Options,
    model: str,
    source: str = "the prediction",
    pad: bool = False,
    map: Optional[bool] = None,
    *,
    _self=cmd,
) -> dict:
    """Classify and draw a map on a target (main thread; used by the commands and the dialog).

    The drawing's data go to :mod:`.registry`.

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) probabilities (NaN: a pair the source does not list).
    sequence : str or None
        The map's sequence (MSA query, file header); None: indexed like the target.
    target : Target
        The chain to draw on.
    options : drawing.Options
        Validated drawing options.
    model : str
        The source named in the summary (model name or ``file <path>``).
    source : str
        The source named in error messages.
    pad : bool
        The map may be shorter than the selection (RR/CSV without a sequence).
    map : bool or None
        Open the contact-map panel; None: when a Qt GUI runs.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    result : dict
        As :func:`.drawing.draw` returns it.

    Raises
    ------
    pymol.CmdException
        A map that does not fit the target, or a name that is taken.
    """
    analysis = drawing.analyse(P, sequence, target, options, source=source, pad=pad)
    result = drawing.draw(analysis, target, options, model, _self)
    registry.record(result["name"], analysis, target, options, result, _self)
    if gui_running() if map is None else map:
        open_map(result["name"], _self)
    elif qt_running():  # a panel of this name already open shows the new drawing
        from . import contact_map

        panel = contact_map.panel_of(result["name"], _self)
        if panel is not None:
            panel.refresh()
    return result


def open_map(name: str, _self=cmd):
    """Open (or refresh) the contact-map panel of a drawing; None, with a note, off the GUI thread.

    Parameters
    ----------
    name : str
        The drawing.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    panel : ContactMapPanel or None
        The panel; None when called outside the GUI thread.

    Raises
    ------
    pymol.CmdException
        PyMOL runs without its Qt window.
    """
    if not qt_running():
        raise CmdException(
            "the contact-map panel needs PyMOL's Qt window (this PyMOL runs without a GUI); "
            "esm_contacts_pairs lists the drawn pairs"
        )
    from pymol.Qt import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance()
    if QtCore.QThread.currentThread() is not app.thread():
        print(
            " esm_contacts: not in the GUI thread; open the contact map with 'esm_contacts_map"
            f" {name}'"
        )
        return None
    from . import contact_map

    return contact_map.show_map(name, _self)


def esm_contacts_load(
    file,
    selection,
    top="L",
    min_sep=None,
    range="all",
    threshold="",
    name="esm",
    plot="",
    assembly="",
    min_identity="",
    format="",
    palette="",
    legend="",
    map="",
    *,
    _self=cmd,
):
    """
    DESCRIPTION

        "esm_contacts_load" draws contacts from a file made elsewhere (for instance by
        "esm-contacts predict" on a GPU server): CASP RR, CSV (i,j,res_i,res_j,probability),
        a NumPy .npy map, or any other readable contact format (PSICOV, CCMpred/GREMLIN
        matrix, plmDCA, EVfold, FreeContact, trRosetta .npz; the README's format table).
        Residue indices refer to the observed residues of the selection, in order; when
        the file carries a sequence (RR header, complete CSV/EVfold/FreeContact letters)
        it is aligned to the selection's sequence first. A dense map (.npy, CCMpred, .npz)
        must be L x L for the selection's L observed residues (or its full construct); a
        sparse file without a sequence may stop short (its length is its largest index).
        A sparse file lists predictions: pairs it does not list are never drawn nor
        ranked (top=all draws every listed pair), and the precision counts them as misses.

    USAGE

        esm_contacts_load file, selection [, top [, min_sep [, range [, threshold
            [, name [, plot [, assembly [, min_identity [, format [, palette [, legend [, map
            ]]]]]]]]]]]]

    Parameters
    ----------
    file : str
        Contact file (.rr/.casp, .csv, .npy, .psicov, .mat, .plmdca, .evfold,
        .freecontact, .npz).
    selection : str
        One protein chain of one object.
    top, min_sep, range, threshold, name, plot, assembly, min_identity : str
        As for esm_contacts.
    palette, legend, map : str
        As for esm_contacts.
    format : str
        The file's format when its extension does not say (rr, csv, npy, psicov,
        ccmpred, plmdca, evfold, freecontact, trrosetta) {default: from the extension}.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    result : dict
        From Python: the drawing, as esm_contacts returns it.

    Raises
    ------
    pymol.CmdException
        A bad argument, an unreadable file, or a map that does not fit the selection;
        the session is left as it was.

    Examples
    --------

        esm_contacts_load 1hvr_A.rr, 1hvr and chain A, top=L/2

    See Also
    --------
    esm_contacts, esm_contacts_clear, esm_contacts_map, esm_contacts_pairs
    """
    options = drawing.parse_options(
        top,
        min_sep,
        range,
        threshold,
        name,
        plot,
        _self=_self,
        min_identity=min_identity,
        palette=palette,
        legend=legend,
    )
    return load_file(
        file, selection, options, assembly, format=format, map=parse_map(map), _self=_self
    )


def is_contact_file(text: str) -> bool:
    """Whether a dialog's model field names a contact file, not a model (the core's format table).

    Parameters
    ----------
    text : str
        The field's text.

    Returns
    -------
    answer : bool
        True for a readable contact file name.
    """
    from esm_contacts.formats import is_contact_file as readable_contact_file

    return readable_contact_file(str(text).strip())


def load_file(
    file,
    selection,
    options: drawing.Options,
    assembly="",
    format="",
    map: Optional[bool] = None,
    *,
    _self=cmd,
) -> dict:
    """Read a contact file and draw it on a selection (``esm_contacts_load`` and the dialog).

    Parameters
    ----------
    file : str
        The contact file.
    selection : str
        One protein chain of one object.
    options : drawing.Options
        Validated drawing options.
    assembly : str
        As for :func:`prepare_target`.
    format : str
        The file's format; empty: from the extension.
    map : bool or None
        Open the contact-map panel; None: when PyMOL's Qt window runs.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    result : dict
        As :func:`draw_prediction` returns it.

    Raises
    ------
    pymol.CmdException
        No file, an unreadable file, or a map that does not fit the selection.
    """
    from esm_contacts.formats import find_format
    from esm_contacts.io import read_contacts

    path = str(file).strip()
    if not path:
        raise CmdException("no contact file given")
    try:
        spec = find_format(path, str(format).strip() or None, "read")
        P, sequence = read_contacts(path, format=spec.name)
        dense = spec.dense
    except (FileNotFoundError, ValueError) as error:
        raise CmdException(str(error)) from None
    target = prepare_target(selection, assembly, _self)
    return draw_prediction(
        P,
        sequence,
        target,
        options,
        f"file {path}",
        source=path,
        pad=not dense,
        map=map,
        _self=_self,
    )


def esm_contacts_clear(name="", *, _self=cmd):
    """
    DESCRIPTION

        "esm_contacts_clear" deletes a contact drawing (the group and everything in it,
        its legend name_key included), or the legend of an esm_contacts_check of that
        name, or every contact drawing and check legend when no name is given.

    USAGE

        esm_contacts_clear [ name ]

    Parameters
    ----------
    name : str
        The drawing or check legend to delete {default: every one}.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    deleted : list of str
        From Python: the names deleted.

    Raises
    ------
    pymol.CmdException
        No contact drawing or check legend of that name.
    """
    deleted = drawing.clear(name, _self=_self)
    for gone in deleted:
        registry.remove(gone, _self)
        close_map(gone, _self)
    print(f" esm_contacts_clear: deleted {', '.join(deleted) if deleted else 'nothing'}")
    return deleted


def esm_contacts_color(category, color, name="", *, _self=cmd):
    """
    DESCRIPTION

        "esm_contacts_color" recolours one category of contact drawings (its dashes and
        its sample in the legend): tp (in the structure), fp (not in the structure) or
        inter (with another chain). PyMOL's own "color orange, esm_tp" recolours the
        dashes too (they take their object's colour) but leaves the legend as it was.

    USAGE

        esm_contacts_color category, color [, name ]

    Parameters
    ----------
    category : str
        tp, fp or inter.
    color : str
        A PyMOL colour name (or 0xRRGGBB).
    name : str
        The drawing {default: every contact drawing}.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    recoloured : list of str
        From Python: the category groups recoloured (``<name>_<category>``).

    Raises
    ------
    pymol.CmdException
        An unknown category or colour, or no contact drawing of that name.

    Examples
    --------

        esm_contacts_color tp, orange
    """
    from .legend import recolor_legend

    kind = str(category).strip().lower()
    if kind not in style.COLORS:
        raise CmdException(f"category must be one of {', '.join(style.COLORS)}, got {category!r}")
    color = str(color).strip()
    index = _self.get_color_index(color) if color else -1
    if index is None or index < 0:
        raise CmdException(
            f"unknown colour {color!r} (a PyMOL colour name, e.g. orange, or 0xRRGGBB)"
        )
    name = str(name).strip()
    names = (
        [name]
        if name
        else [n for n in _self.get_names_of_type("object:group") if drawing.is_drawing(n, _self)]
    )
    if name and not drawing.is_drawing(name, _self):
        raise CmdException(f"no contact drawing named {name!r}")
    rgb = _self.get_color_tuple(index)
    recoloured = []
    for drawn in names:
        group = f"{drawn}_{kind}"
        if group in _self.get_names("all"):
            _self.color(color, group)
            recoloured.append(group)
        recolor_legend(drawn, kind, rgb, _self)
    print(
        f" esm_contacts_color: {kind} in {color}:"
        f" {', '.join(recoloured) if recoloured else 'no dashes'}"
    )
    return recoloured


def close_map(name: str, _self=cmd) -> None:
    """Close the contact-map panel of a deleted drawing, where one is open.

    Parameters
    ----------
    name : str
        The deleted drawing.
    _self : pymol.cmd
        The PyMOL instance (cmd).
    """
    if qt_running():  # without Qt no panel was ever opened
        from . import contact_map

        contact_map.close_map(name, _self)


def esm_contacts_pairs(name="", quiet=0, *, _self=cmd):
    """
    DESCRIPTION

        "esm_contacts_pairs" lists the drawn pairs of a contact drawing: both residues
        as the structure names them (chain:number+insertion code and name, "A:744 LEU"),
        the predicted probability, the Cb-Cb distance within the chain (virtual Cb,
        contact: < 8 A), the shortest Cb-Cb distance to a partner chain of the same
        sequence where there is one, and the category (true contact, homodimer contact,
        false positive). Highest probability first. From Python it returns the list of
        dicts (residue_1, residue_2, position_1, position_2, probability, distance,
        inter_distance, category, category_label).

    USAGE

        esm_contacts_pairs [ name [, quiet ]]

    Parameters
    ----------
    name : str
        The drawing {default: the latest one}.
    quiet : str or int
        0/1: 1 returns the list without printing it {default: 0}.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    rows : list of dict
        From Python: one dict per drawn pair, highest probability first.

    Raises
    ------
    pymol.CmdException
        No drawing of that name (or none at all), or a bad quiet value.

    Examples
    --------

        esm_contacts_pairs esm
        # in a Python script:
        from pymol_plugin.commands import esm_contacts_pairs
        pairs = esm_contacts_pairs("esm", quiet=1)

    See Also
    --------
    esm_contacts, esm_contacts_map
    """
    entry = registry.get(name, _self)
    rows = registry.pair_rows(entry)
    if not parse_map(quiet, "quiet"):
        print(registry.format_rows(entry, rows))
    return rows


def esm_contacts_map(name="", *, _self=cmd):
    """
    DESCRIPTION

        "esm_contacts_map" opens the contact map of a drawing, docked in PyMOL's window:
        predicted probabilities above the diagonal, the structure's contacts below
        (within the chain dark, with a chain of the same sequence in the homodimer
        colour), the drawn pairs marked in their dash colours. Hovering a cell names
        both residues, the probability, the Cb-Cb distance and the category; clicking
        it selects the two residues as <name>_pick, zooms on them and measures their
        distance (<name>_pick_dist). Refresh highlights the rows and columns of the
        residues in the selection "sele". The panel opens after each drawing in
        PyMOL's window unless map=0 is given.

    USAGE

        esm_contacts_map [ name ]

    Parameters
    ----------
    name : str
        The drawing {default: the latest one}.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    name : str
        From Python: the drawing whose map was opened.

    Raises
    ------
    pymol.CmdException
        No drawing of that name, or PyMOL runs without its Qt window.

    See Also
    --------
    esm_contacts, esm_contacts_pairs
    """
    entry = registry.get(name, _self)
    open_map(entry.name, _self)
    return entry.name


#: The ``top`` values offered by completion and the dialogs.
TOP_CHOICES = list(TOPS) + ["all"]


def model_names() -> list:
    """The model names offered by completion and the dialogs (the known fair-esm models).

    Returns
    -------
    names : list of str
        :data:`esm_contacts.catalog.KNOWN_MODELS`, in its order.
    """
    return list(KNOWN_MODELS)


def selection_completion(_self=cmd) -> list:
    """PyMOL ``auto_arg`` entry completing object and selection names.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    entry : list
        ``[shortcut function, "selection", ", "]``.
    """
    return [lambda: _self.selection_sc(), "selection", ", "]


def add_command(_self, name: str, function, completions=()) -> None:
    """``cmd.extend`` a command, with one ``auto_arg`` completion entry per argument
    position (None: PyMOL's own file-name completion).

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).
    name : str
        The command's name.
    function : callable
        The command.
    completions : sequence
        One ``auto_arg`` entry (or None) per argument position.
    """
    _self.extend(name, function)
    for position, completion in enumerate(completions):
        while position >= len(_self.auto_arg):
            _self.auto_arg.append({})
        if completion is not None:
            _self.auto_arg[position][name] = completion


def register(_self=cmd) -> None:
    """Add the commands, with argument completion, to a PyMOL instance.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).
    """
    from pymol.shortcut import Shortcut

    selection = selection_completion(_self)
    group = [lambda: Shortcut(_self.get_names_of_type("object:group")), "drawing", ""]
    ranges = [lambda: Shortcut(list(drawing.RANGE_NAMES)), "range", ", "]
    tops = [lambda: Shortcut(TOP_CHOICES), "top", ", "]
    models = [lambda: Shortcut(model_names()), "model", ", "]
    add_command(_self, "esm_contacts", esm_contacts, (selection, models, tops, None, ranges))
    add_command(
        _self, "esm_contacts_load", esm_contacts_load, (None, selection, tops, None, ranges)
    )
    add_command(_self, "esm_contacts_clear", esm_contacts_clear, (group,))
    categories = [lambda: Shortcut(list(style.COLORS)), "category", ", "]
    add_command(_self, "esm_contacts_color", esm_contacts_color, (categories, None, group))
    drawings = [lambda: Shortcut(registry.names(_self)), "drawing", ""]
    add_command(_self, "esm_contacts_pairs", esm_contacts_pairs, (drawings,))
    add_command(_self, "esm_contacts_map", esm_contacts_map, (drawings,))
