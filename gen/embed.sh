#!/bin/sh
# embed.sh IN OUT NAME: writes OUT, a C header holding the bytes of IN as
# `static const unsigned char NAME[]` (NUL-terminated) and NAME_len, so that trainc
# carries gen/prelude.lua in its binary (meson runs this at build time).
set -e
in=$1 out=$2 name=$3
{
    printf '/* generated from %s by gen/embed.sh; do not edit */\n' "$(basename "$in")"
    printf 'static const unsigned char %s[] = {\n' "$name"
    od -An -v -tx1 "$in" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1, /g' -e 's/^/    /' -e 's/, *$/,/'
    printf '    0x00};\n'
    printf 'static const unsigned long %s_len = sizeof %s - 1;\n' "$name" "$name"
} >"$out.tmp"
mv "$out.tmp" "$out"
