"""A strict-enough reading of the report page with the stdlib's html.parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements HTML allows without a closing tag.
VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


@dataclass
class ParsedPage:
    elements: list[Element] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def find(self, tag: str, css_class: str | None = None) -> list[Element]:
        return [
            element
            for element in self.elements
            if element.tag == tag and (css_class is None or css_class in element.classes)
        ]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self.stack: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.page.elements.append(element)
        if tag not in VOID_ELEMENTS:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Self-closed SVG elements (<rect/>, <path/>): nothing to close.
        self.page.elements.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            return
        if not self.stack or self.stack[-1].tag != tag:
            open_tag = self.stack[-1].tag if self.stack else None
            self.page.errors.append(f"</{tag}> closes <{open_tag}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text += data


def parse_page(page: str) -> ParsedPage:
    """Parse the page, recording every mis-nested or unclosed tag in ``errors``."""
    parser = _Parser()
    parser.feed(page)
    parser.close()
    parser.page.errors.extend(f"<{element.tag}> never closed" for element in parser.stack)
    return parser.page
