"""The key footer, fitted to the width: an entry that does not fit is left out whole, never cut
mid-word ("m re"). The first entries are kept (stop and help come first), and the help screen
lists every key."""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # Textual exports the footer, not its entries

MORE = "…"


class FittedFooter(Footer):
    DEFAULT_CSS = """
    FittedFooter FooterKey.-more { color: $footer-description-foreground; }
    """

    async def recompose(self) -> None:
        await super().recompose()
        self.call_after_refresh(self.fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        keys = [key for key in self.query(FooterKey) if not key.has_class("-more")]
        widths = [_width(key) for key in keys]
        room = self.size.width
        if sum(widths) - _right_margin(keys) > room:
            room -= len(MORE)  # what is left out is announced, at the end
        used = 0
        cut = False
        for key, width in zip(keys, widths, strict=True):
            cut = cut or used + width - key.styles.margin.right > room
            key.display = not cut
            used += width
        self._show_more(cut)

    def _show_more(self, cut: bool) -> None:
        more = self.query(".-more")
        if more:
            more.first().display = cut
        elif cut:
            self.mount(FooterKey("question_mark", MORE, "", "app.help", classes="-more"))


def _width(key: FooterKey) -> int:
    """The cells an entry takes: its text and its margins, as the footer's CSS lays it out."""
    margin = key.styles.margin
    return key.render().cell_len + margin.left + margin.right


def _right_margin(keys: list[FooterKey]) -> int:
    return keys[-1].styles.margin.right if keys else 0
