"""test_names.py — names and paths cannot break what trainc generates
(issue 13, items 6 and 7). Random byte strings become the model name, layer
names, the spec's folder and file name and the data's folder; every spec
builds (or is refused with a message, exit 2), and the trainer prints each
name and path back byte for byte. Then the five cases once found broken.

    TRAINC_NAMES_BUILT  random specs built and run (default 12; a build
                        costs a compile)
    TRAINC_NAMES_GEN    random specs generated only, their model.c,
                        predict.c, main.c and info.c compiled with
                        gcc -fsyntax-only -Werror (default 90, about 1,000
                        random names and paths)
    TRAINC_NAMES_SEED   the seed (default 1); a long run, e.g.
                        TRAINC_NAMES_BUILT=400 TRAINC_NAMES_GEN=2000
                        TRAINC_NAMES_SEED=$RANDOM tests/run names
"""
import os
import random
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import exit_status, report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINC = os.environ.get("TRAINC", os.path.join(ROOT, "build/gen/trainc"))
TMP = os.path.join(os.environ.get("TRAINC_TMP", os.path.join(ROOT, "tests/tmp")), "names")
N_BUILT = int(os.environ.get("TRAINC_NAMES_BUILT", "12"))
N_GEN = int(os.environ.get("TRAINC_NAMES_GEN", "90"))
rng = random.Random(int(os.environ.get("TRAINC_NAMES_SEED", "1")))

# pieces that broke, or could break, a context: C strings and comments,
# trigraphs, printf formats, ninja's $ and :, shells, terminals, UTF-8
HOSTILE = [b'"', b"'", b"\\", b"??/", b"??=", b"*/", b"/*", b"//", b"\n", b"\r", b"\t",
           b"$", b":", b" ", b"%s", b"%n", b"\\x41", b"\\0", b"{{name}}", b"#", b"`",
           b"\x1b[31m", "é".encode(), "\u202e".encode(), b"\xff", b"\xc3", b"."]


def random_bytes(path_part):
    """1 to 24 pieces: hostile ones and random bytes (no NUL; no '/' in a
    path component, which is not '.' or '..')."""
    while True:
        s = b""
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.5:
                s += rng.choice(HOSTILE)
            else:
                s += bytes(rng.randint(1, 255) for _ in range(rng.randint(1, 4)))
        if path_part:
            s = s.replace(b"/", b"_")[:120]
            if s in (b".", b".."):
                continue
        return s


def lua(s):
    """s as a Lua string literal: every byte as a decimal escape."""
    return '"' + "".join("\\%03d" % b for b in s) + '"'


def safe_label(s):
    """gen/spec/args.c's spec_safe_label: what a layer name is written as."""
    t = bytearray(s or b"_")
    for i, c in enumerate(t):
        ok = chr(c).isascii() and (chr(c).isalnum() or c in b"_-" or (c == ord(".") and i))
        if not ok:
            t[i] = ord("_")
    return bytes(t[:64])


CSV = b"a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"


def make_case(base, n_layers, model_name=None, spec_dir=None, spec_file=None, data_dir=None):
    """Writes a spec with these names (random where not given) under base;
    returns its description."""
    spec_dir = spec_dir if spec_dir is not None else random_bytes(True)
    spec_file = spec_file if spec_file is not None else random_bytes(True) + b".lua"
    data_dir = data_dir if data_dir is not None else random_bytes(True)
    layers = [random_bytes(False) for _ in range(n_layers)]
    named = model_name is not None or rng.random() < 0.7  # else the file's stem names it
    if model_name is None and named:
        model_name = random_bytes(False)
    d = os.path.join(base.encode(), spec_dir)
    os.makedirs(os.path.join(d, data_dir), exist_ok=True)
    with open(os.path.join(d, data_dir, b"d.csv"), "wb") as f:
        f.write(CSV)
    lines = []
    if named:
        lines.append("model " + lua(model_name))
    lines.append("data = csv { train = %s, label = \"y\" }" % lua(data_dir + b"/d.csv"))
    lines += ["local x = input { 2 }", "local y = labels { 1 }", "local h = x"]
    for i, n in enumerate(layers):
        last = i == len(layers) - 1
        lines.append("h = %s(linear(h, %d, { name = %s }))" % ("sigmoid" if last else "tanh",
                                                                  1 if last else 2, lua(n)))
    lines += ["minimize(bce(h, y))", "optimizer = sgd { lr = 0.5 }",
              "train { batch = 4, epochs = 1 }"]
    spec = os.path.join(d, spec_file)
    with open(spec, "wb") as f:
        f.write("\n".join(lines).encode() + b"\n")
    return {"spec": spec, "model": model_name if named else spec_file[:-4], "layers": layers,
            "named": named,
            "data": os.path.join(d, data_dir, b"d.csv"), "out": os.path.join(base.encode(), b"out")}


def run(args, cwd=None, timeout=300):
    p = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout


COMPILER_WARNING = re.compile(rb"\.[ch]:\d+:\d+: (warning|error)")


def refused_well(rc, out):
    """exit 2 with trainc's message, no crash"""
    return rc == 2 and out.startswith(b"trainc: ") and b"internal error" not in out


def first_line(out):
    return out.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(no output)"]


def blas_flags(out_dir):
    with open(os.path.join(out_dir, b"build.ninja"), "rb") as f:
        m = re.search(rb"^blas_cflags = (.*)$", f.read(), re.M)
    return m.group(1).decode().split() if m else []


def syntax_ok(out_dir):
    """model.c, predict.c, main.c and info.c compile warning-free as
    build.ninja compiles them (-std=c11: trigraphs on)."""
    rc, out = run(["gcc", "-fsyntax-only", "-std=c11", "-Wall", "-Wextra", "-pedantic", "-Werror",
                   "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE", "-I."] + blas_flags(out_dir)
                  + ["model.c", "predict.c", "main.c", "info.c"], cwd=out_dir)
    return rc == 0, out


def names_shown(case, info):
    """each name and path the trainer was given, byte for byte, in its info"""
    missing = [n for n in [case["model"], case["spec"]] + case["layers"]
               if n[:1024] not in info]
    return not missing, missing


# ---- random specs, generated only: the escaping over many names ----
def gen_cases():
    bad = []
    names = refused = 0
    for k in range(N_GEN):
        base = os.path.join(TMP, "gen%d" % k)
        case = make_case(base, 8)
        names += 3 + len(case["layers"]) + case["named"]
        out_dir = os.path.join(case["out"], b"g")
        rc, out = run([TRAINC, "gen", case["spec"], "-o", out_dir])
        if rc == 2 and refused_well(rc, out):
            refused += 1
            print("# refused:", first_line(out)[0][:200])
        elif rc != 0:
            bad.append("case %d: trainc exit %d: %s" % (k, rc, first_line(out)))
        else:
            ok, why = syntax_ok(out_dir)
            if not ok:
                bad.append("case %d: %s" % (k, first_line(why)))
        shutil.rmtree(base, ignore_errors=True)
    report(not bad, "names: %d random specs (%d random names and paths) generate C that compiles "
           "warning-free, or are refused with exit 2 (%d refused)" % (N_GEN, names, refused),
           "; ".join(bad[:3]))
    return names


# ---- random specs, built and run ----
def built_cases():
    problems = {"build": [], "warnings": [], "info": [], "renames": [], "train": [], "data": []}
    names = refused = 0
    for k in range(N_BUILT):
        base = os.path.join(TMP, "built%d" % k)
        case = make_case(base, 3)
        names += 3 + len(case["layers"]) + case["named"]
        out_dir = os.path.join(case["out"], b"b")
        rc, out = run([TRAINC, "build", "-q", case["spec"], "-o", out_dir])
        if rc == 2 and refused_well(rc, out):
            refused += 1
            print("# refused:", first_line(out)[0][:200])
            shutil.rmtree(base, ignore_errors=True)
            continue
        if rc != 0:
            problems["build"].append("case %d: exit %d: %s" % (k, rc, first_line(out)))
            continue
        if COMPILER_WARNING.search(out):
            problems["warnings"].append("case %d" % k)
        # the layer names written otherwise are each a warning
        want = sum(safe_label(n) != n for n in case["layers"])
        got = out.count(b"warning: the layer name '")
        if want != got:
            problems["renames"].append("case %d: %d layer warnings, expected %d" % (k, got, want))
        exe = [f for f in os.listdir(out_dir) if os.access(os.path.join(out_dir, f), os.X_OK)
               and os.path.isfile(os.path.join(out_dir, f)) and not f.endswith(b".a")]
        if len(exe) != 1:
            problems["build"].append("case %d: trainers %r" % (k, exe))
            continue
        trainer = os.path.join(out_dir, exe[0])
        rc, info = run([trainer, "info"], cwd=out_dir)
        ok, missing = names_shown(case, info)
        if rc != 0 or not ok:
            problems["info"].append("case %d: exit %d, missing %r" % (k, rc, missing[:1]))
        rc, out = run([trainer, "train", "--quiet"], cwd=out_dir)
        if rc != 0:
            problems["train"].append("case %d: exit %d: %s" % (k, rc, first_line(out)))
        # the data's path, byte for byte, in the trainer's message
        os.rename(case["data"], case["data"] + b".gone")
        rc, out = run([trainer, "train", "--quiet"], cwd=out_dir)
        if rc != 1 or case["data"] + b": cannot open" not in out:
            problems["data"].append("case %d: exit %d: %s" % (k, rc, first_line(out)))
        shutil.rmtree(base, ignore_errors=True)
    n = N_BUILT
    report(not problems["build"], "names: %d random specs build, or are refused with exit 2 "
           "(%d refused)" % (n, refused), "; ".join(problems["build"][:3]))
    report(not problems["warnings"], "names: ... without compiler warnings",
           "; ".join(problems["warnings"][:3]))
    report(not problems["renames"], "names: ... each layer name written otherwise is a warning",
           "; ".join(problems["renames"][:3]))
    report(not problems["info"], "names: ... and info prints the model name, layer names and "
           "spec path back byte for byte", "; ".join(problems["info"][:3]))
    report(not problems["train"], "names: ... and the trainers train (their data path is right)",
           "; ".join(problems["train"][:3]))
    report(not problems["data"], "names: ... and a missing data file is named byte for byte",
           "; ".join(problems["data"][:3]))
    return names


# ---- the five cases found broken (issue 13, item 6) ----
def regressions():
    base = os.path.join(TMP, "regress")
    cases = {
        "a data folder named what?? (a trigraph: ??/ read as a backslash)":
            dict(data_dir=b"what??", spec_file=b"s.lua"),
        "a spec named my spec 'q' \"dq\".lua (a quote ended MODEL_SPEC)":
            dict(spec_file=b"my spec 'q' \"dq\".lua"),
        "a spec in a folder named x* (*/ ended the header comment)":
            dict(spec_dir=b"x*", spec_file=b"s.lua"),
        "a folder name with a newline (broke build.ninja)":
            dict(spec_dir=b"nl\nx", spec_file=b"s.lua"),
        "a spec named s\\x41\\.lua (printed as sA.lua)": dict(spec_file=b"s\\x41\\.lua"),
    }
    for i, (what, kw) in enumerate(cases.items()):
        kw.setdefault("spec_dir", b"d%d" % i)
        kw.setdefault("data_dir", b"data")
        case = make_case(os.path.join(base, "g%d" % i), 1, model_name=b"m", **kw)
        out_dir = os.path.join(case["out"], b"g")
        rc, out = run([TRAINC, "gen", "-q", case["spec"], "-o", out_dir])
        ok, why = syntax_ok(out_dir) if rc == 0 else (False, out)
        report(ok, "names: %s: the generated C compiles warning-free" % what, first_line(why))
    # one trainer with all five in its paths, built and run
    case = make_case(base, 2, model_name=b"m", spec_dir=b"x*/nl\nx",
                     spec_file=b"my spec 'q' \"dq\" s\\x41\\.lua", data_dir=b"what??")
    out_dir = os.path.join(case["out"], b"all")
    rc, out = run([TRAINC, "build", "-q", case["spec"], "-o", out_dir])
    report(rc == 0, "names: all five in one spec's paths build", first_line(out))
    if rc != 0:
        return
    trainer = os.path.join(out_dir, b"m_")
    rc, info = run([trainer, "info"], cwd=out_dir)
    report(b"(from " + case["spec"] + b", spec hash" in info,
           "names: ... info prints the spec path byte for byte (not sA.lua)", first_line(info))
    rc, out = run([trainer, "train", "--quiet"], cwd=out_dir)
    report(rc == 0, "names: ... the trainer opens the data in what?? (not what\\)",
           first_line(out))
    # negative control: the same trainer told another path fails, naming it
    os.rename(case["data"], case["data"] + b".gone")
    rc, out = run([trainer, "train", "--quiet"], cwd=out_dir)
    report(rc == 1 and case["data"] + b": cannot open" in out,
           "names: ... and names that path byte for byte once the file is gone", first_line(out))


# ---- item 7: names trainc must rewrite ----
def rewrites():
    base = os.path.join(TMP, "rewrite")
    long_name = b"n" * 10000
    for what, name, written in [("m*/x", b"m*/x", b"m_x"), ("unicode", "модель".encode(), b"t_"),
                                ("10k characters", long_name, b"n" * 48)]:
        case = make_case(os.path.join(base, what.replace(" ", "_").replace("*/", "")), 1,
                         model_name=name, spec_dir=b"d", spec_file=b"s.lua", data_dir=b"data")
        out_dir = os.path.join(case["out"], b"g")
        rc, out = run([TRAINC, "gen", "-q", case["spec"], "-o", out_dir])
        shown = name if len(name) <= 100 else name[:100] + b"... (10000 bytes)"
        want = b"s.lua:1: warning: the model name '" + shown + b"' is written '" + written + b"'"
        report(rc == 0 and want in out,
               "names: a model name %s is written %s, with a warning naming both" %
               (what, written.decode()[:10] + ("..." if len(written) > 10 else "")),
               first_line(out))
        ok, why = syntax_ok(out_dir) if rc == 0 else (False, out)
        report(ok, "names: ... and its C compiles warning-free", first_line(why))


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    if not os.access(TRAINC, os.X_OK):
        report(False, "trainc binary found", TRAINC)
        return 1
    regressions()
    rewrites()
    n = gen_cases() + built_cases()
    print("# %d random names and paths tried" % n)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
