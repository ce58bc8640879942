#!/usr/bin/python3
"""A terminal screen as a PNG: the text and colours of `tmux capture-pane -p -e` drawn cell by
cell in DejaVu Sans Mono (Debian: python3-pil, fonts-dejavu-core).

Usage: test/screenshot.py CAPTURE.ansi OUT.png
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf'
BOLD = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf'
SIZE = 14
# xterm's palette: black red green yellow blue magenta cyan white, then the bright ones
PALETTE = ['#000000', '#cd0000', '#00cd00', '#cdcd00', '#0000ee', '#cd00cd', '#00cdcd', '#e5e5e5',
           '#7f7f7f', '#ff0000', '#00ff00', '#ffff00', '#5c5cff', '#ff00ff', '#00ffff', '#ffffff']
FG, BG = '#d0d0d0', '#1c1c1c'
SGR = re.compile(r'\x1b\[([0-9;]*)m')


class Pen:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = self.bg = None
        self.bold = self.reverse = self.dim = False

    def apply(self, params):
        codes = [int(c) if c else 0 for c in params.split(';')] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37 or 90 <= c <= 97:
                self.fg = PALETTE[c - 30 if c < 90 else c - 82]
            elif 40 <= c <= 47 or 100 <= c <= 107:
                self.bg = PALETTE[c - 40 if c < 100 else c - 92]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
                colour = PALETTE[codes[i + 2]] if codes[i + 2] < 16 else None
                setattr(self, 'fg' if c == 38 else 'bg', colour)
                i += 2
            i += 1

    def colours(self):
        fg, bg = self.fg or FG, self.bg or BG
        if self.reverse:
            fg, bg = bg, fg
        if self.dim and not self.reverse:
            fg = '#808080'
        return fg, bg


def cells(text):
    """Rows of (char, fg, bg, bold) from the capture's text and SGR sequences."""
    pen = Pen()
    rows = []
    for line in text.split('\n'):
        row, pos = [], 0
        for m in SGR.finditer(line):
            row += [(ch, *pen.colours(), pen.bold) for ch in line[pos:m.start()]]
            pen.apply(m[1])
            pos = m.end()
        row += [(ch, *pen.colours(), pen.bold) for ch in line[pos:]]
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def main():
    src, out = sys.argv[1:3]
    rows = cells(open(src, encoding='utf-8', errors='replace').read())
    font, bold = ImageFont.truetype(FONT, SIZE), ImageFont.truetype(BOLD, SIZE)
    w = int(font.getlength('M'))
    h = SIZE + 3
    width = max(len(r) for r in rows)
    img = Image.new('RGB', (w * width + 16, h * len(rows) + 16), BG)
    d = ImageDraw.Draw(img)
    for y, row in enumerate(rows):
        for x, (ch, fg, bg, is_bold) in enumerate(row):
            box = (8 + x * w, 8 + y * h, 8 + (x + 1) * w, 8 + (y + 1) * h)
            if bg != BG:
                d.rectangle(box, fill=bg)
            if ch != ' ':
                d.text(box[:2], ch, fill=fg, font=bold if is_bold else font)
    img.convert('P', palette=Image.ADAPTIVE, colors=32).save(out, optimize=True)  # small


if __name__ == '__main__':
    main()
