"""Values in Markdown, shown as text: never a link, an image, HTML, a code-span break-out, a
Streamlit directive (`:red[...]`, `:material/...:`), an emoji shortcode or `$...$` LaTeX.

Every string Streamlit draws with st.markdown, st.caption, st.error/warning/info/success,
st.toast, metric labels, values and help, button and expander labels, page links, progress
and status texts is Markdown. A value that comes from a URL (`?db=`), the database, the
monitor database or the secrets goes into such a string only through one of these:

    md(value)      the value as text (the few characters that would start Markdown are
                   written as character references, so the text shown is the value itself)
    code(value)    the value in an inline code span (monospace) when it is plain, else md()
    prose(text)    r2w_db's own sentences (errors, health details, previews) that may quote
                   values: `...` pairs stay code spans, everything else goes through md()

Characters that are common in paths, URLs and messages and harmless where they stand are
left as they are (`postgresql://app:***@host/db?x=1&y=2`, `r2w_db`, `[monitor] key`), so
a message reads the same; the ones that could start a construct are replaced.
No SQL here, no Streamlit: plain string functions (tests/test_hardening_pages.py).
"""
import re

# a character reference for each character md() replaces
_REF = {c: f"&#{ord(c)};" for c in "\\`[]!<>$|~*_:@.&#-+=)("}
_REF["<"] = "&lt;"
_WORD_JOINER = "\u2060"   # invisible: breaks `:name:` for Streamlit's text-node plugins

_ALWAYS = re.compile(r"[`<$|]")
_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~]|$)", re.M)     # before punctuation or end of line
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")                 # &lt; &#91; ... would be decoded
_LINK_CLOSE = re.compile(r"\](?=[(\[:])")                     # ](url)  ][ref]  ]: definition
_IMAGE = re.compile(r"!(?=\[)")
_STAR = re.compile(r"\*+")
_UNDERSCORE = re.compile(r"_")
_TILDE = re.compile(r"~")
_COLON_NAME = re.compile(r":(?=[A-Za-z])")                    # :red[ :material/ :name directives
_SHORTCODE = re.compile(r":(?=[\w+-]*[A-Za-z][\w+-]*:)")      # :smile: :streamlit: :material_x:
_PROTOCOL = re.compile(r"(?i)(?<![A-Za-z0-9])(https?|ftp)(:)(?=//)")
_WWW = re.compile(r"(?i)(?<![A-Za-z0-9.])(www)(\.)")
_EMAIL_AT = re.compile(r"(?<=[A-Za-z0-9._+-])@(?=[A-Za-z0-9_-]+\.[A-Za-z0-9])")
# at the start of a line: headings, quotes, lists, thematic breaks, setext underlines, fences
_LINE_START = re.compile(
    r"^([ \t]*)(?:(#{1,6}|[-+*])(?=[ \t]|$)|(>)|(=+|-+)(?=[ \t]*$)|(\d{1,9})([.)])(?=[ \t]|$))",
    re.M)


def _sub_char(pattern, text):
    return pattern.sub(lambda m: "".join(_REF.get(c, c) for c in m.group(0)), text)


def _stars(text):
    """`*` runs become text, except the password mask of a redacted location (`:***@`,
    `password=***`, `"***"`): alone in a message it starts nothing."""
    def one(m):
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if m.group(0) == "***" and (before in ':="' or after in '@"'):
            return m.group(0)
        return _REF["*"] * len(m.group(0))
    return _STAR.sub(one, text)


def _underscores(text):
    """`_` inside a word (`r2w_db`, `anonymous_`'s middle) never starts emphasis; elsewhere text."""
    def one(m):
        i = m.start()
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        return "_" if before.isalnum() and after.isalnum() else _REF["_"]
    return _UNDERSCORE.sub(one, text)


def _line_start(m):
    indent, marker, quote, underline, digits, dot = m.groups()
    if marker:
        return indent + _REF.get(marker[0], marker[0]) + marker[1:]
    if quote:
        return indent + _REF[">"]
    if underline:
        return indent + _REF[underline[0]] + underline[1:]
    return indent + digits + _REF[dot]


def md(value) -> str:
    """`value` (any object; None is "") as Markdown that shows exactly its text."""
    text = "" if value is None else str(value)
    if not text:
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ENTITY.sub(_REF["&"], text)                       # first: the others add &...;
    text = _BACKSLASH.sub(_REF["\\"], text)
    text = _sub_char(_ALWAYS, text)
    text = _LINK_CLOSE.sub(_REF["]"], text)
    text = _IMAGE.sub(_REF["!"], text)
    text = _stars(text)
    text = _underscores(text)
    if text.count("~") >= 2:                                  # ~strike~ needs a pair
        text = _TILDE.sub(_REF["~"], text)
    text = _PROTOCOL.sub(lambda m: m.group(1) + _REF[":"], text)
    text = _WWW.sub(lambda m: m.group(1) + _REF["."], text)
    text = _EMAIL_AT.sub(_REF["@"], text)
    text = _SHORTCODE.sub(_REF[":"] + _WORD_JOINER, text)
    text = _COLON_NAME.sub(_REF[":"], text)
    return _LINE_START.sub(_line_start, text)


def code(value) -> str:
    """`value` in an inline code span (monospace) when it holds nothing Markdown could read
    (a path, a redacted URL, a command); otherwise md(value): inside a code span nothing can
    be escaped, and a backtick or a blank line in the value would end the span early."""
    text = "" if value is None else str(value)
    if not text.strip() or "\n" in text or "`" in text or md(text) != text:
        return md(text)
    return f"`{text}`"


def prose(text) -> str:
    """One of r2w_db's sentences (an error, a health check's detail, a preview) that may
    quote values: each `...` pair is a code span (code()), the rest md(). An odd number of
    backticks (a value holds one): all of it md()."""
    text = "" if text is None else str(text)
    parts = text.split("`")
    if len(parts) % 2 == 0:
        return md(text)
    return "".join(code(part) if i % 2 else md(part) for i, part in enumerate(parts))
