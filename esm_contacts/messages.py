"""How inputs, sizes and numbers are written in messages: one rule for every error text."""

__all__ = ["QUOTE_LIMIT", "quote_input", "size_text", "number_text", "one_line"]

#: Quoted input is cut to this many characters (a pasted file must not fill the terminal).
QUOTE_LIMIT = 80


def quote_input(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Text from an input file, quoted for an error message and cut to ``limit`` characters.

    Parameters
    ----------
    text : str
        A line, a field or a token of the file.
    limit : int
        Characters kept; a longer text ends in ``...`` and gives its full length.

    Returns
    -------
    quoted : str
        ``repr`` of the (cut) text, e.g. ``'i j 0 8 p'`` or ``'xxxx...' (4200 characters)``.

    Examples
    --------
    >>> print(quote_input("  i j 0 8 p  "))
    'i j 0 8 p'
    >>> print(quote_input("x" * 100, limit=4))
    'xxxx'... (100 characters)
    """
    text = str(text).strip()
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def size_text(size: int) -> str:
    """A number of bytes in words (``6.4 GB``; ``about 10^30 bytes`` beyond exabytes).

    Parameters
    ----------
    size : int
        Bytes, >= 0; any size (a huge int is not converted to a decimal string).

    Returns
    -------
    text : str
        Whole bytes below 1000, else one decimal in decimal units (kB = 1000 bytes)
        up to EB, else the power of ten.

    Examples
    --------
    >>> size_text(512)
    '512 bytes'
    >>> size_text(6_400_000_000)
    '6.4 GB'
    >>> size_text(10**40)
    'about 10^39 bytes'
    """
    if (
        size >= 10**21
    ):  # str() of a huge int may exceed Python's digit limit: the exponent from its bits
        return f"about 10^{int((int(size).bit_length() - 1) * 0.30103)} bytes"
    size = float(size)
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} EB"


def number_text(value: int) -> str:
    """An integer from a file for a message: whole up to 20 digits, else its first digits and
    length.

    Parameters
    ----------
    value : int
        The number as read (any size).

    Returns
    -------
    text : str
        The decimal digits, or the first 12 and the number of digits.

    Examples
    --------
    >>> number_text(42)
    '42'
    >>> number_text(10**30)
    '100000000000... (31 digits)'
    """
    text = str(value)
    return text if len(text) <= 20 else f"{text[:12]}... ({len(text)} digits)"


def one_line(text: str, limit: int = 300) -> str:
    """An exception's text on one line, cut to `limit` characters (torch's can run to pages).

    Parameters
    ----------
    text : str
        The text, of any number of lines.
    limit : int
        Characters kept; a longer text ends in ``...``.

    Returns
    -------
    line : str
        The words of `text` joined by single spaces.
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
