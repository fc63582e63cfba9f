"""png_check.py PNG [NAME=RRGGBB ...] — reads a PNG with zlib alone (chunk
CRCs, IHDR, IDAT, the five row filters) and prints, one per line:
  size WIDTHxHEIGHT
  nonwhite N        pixels that are not (nearly) white
  dark N            pixels darker than mid grey (text, axes)
  NAME N            pixels within 48 per channel of colour RRGGBB
Exits 1 with a message when the file is not a valid 8-bit RGB/RGBA PNG.
Used by tests/test_plot.sh to see that Chromium drew the curves."""
import struct
import sys
import zlib


def fail(msg):
    print("png_check: %s: %s" % (sys.argv[1], msg))
    sys.exit(1)


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("no PNG signature")
    pos, ihdr, idat = 8, None, []
    while pos < len(data):
        if pos + 8 > len(data):
            fail("truncated chunk header")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            fail("truncated %r chunk" % kind)
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            fail("bad CRC in %r chunk" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None or not idat:
        fail("no IHDR or IDAT")
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        fail("not 8-bit RGB/RGBA without interlace (depth %d, type %d)" % (depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    if len(raw) != h * (stride + 1):
        fail("%d bytes of image data, expected %d" % (len(raw), h * (stride + 1)))
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        elif f != 0:
            fail("row %d: unknown filter %d" % (y, f))
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def main():
    w, h, bpp, rows = read_png(sys.argv[1])
    colours = []
    for arg in sys.argv[2:]:
        name, hexrgb = arg.split("=")
        colours.append((name, tuple(int(hexrgb[i:i + 2], 16) for i in (0, 2, 4))))
    nonwhite = dark = 0
    hits = [0] * len(colours)
    for line in rows:
        for x in range(w):
            r, g, b = line[x * bpp], line[x * bpp + 1], line[x * bpp + 2]
            if r < 235 or g < 235 or b < 235:
                nonwhite += 1
                if r + g + b < 3 * 128:
                    dark += 1
                for k, (_, (cr, cg, cb)) in enumerate(colours):
                    if abs(r - cr) <= 48 and abs(g - cg) <= 48 and abs(b - cb) <= 48:
                        hits[k] += 1
    print("size %dx%d" % (w, h))
    print("nonwhite %d" % nonwhite)
    print("dark %d" % dark)
    for (name, _), n in zip(colours, hits):
        print("%s %d" % (name, n))


main()
