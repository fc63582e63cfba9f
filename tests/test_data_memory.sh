# Data larger than the memory a trainer may use: a 400 MB .npy file (sparse:
# it takes no disk) trains under a 300 MiB address-space limit (ulimit -v),
# its rows read when batches need them (the whole mapping does not fit in
# that limit, so the trainer reads rows with pread), to the same weights as
# without the limit (where the file is mapped); reading the same file whole,
# as predict does, fails under that limit (the limit binds). Fashion-MNIST's
# peak memory is checked in test_trainer.sh. Not under the sanitizers, whose
# shadow memory needs more address space than any such limit.
. tests/lib.sh
out=$TRAINC_TMP/data_memory
rm -rf "$out" && mkdir -p "$out"
if sanitized; then
    echo "ok - skipped under the sanitizers (address-space limits)"
    exit 0
fi

# x: 100000 rows of 1000 float32 zeros (400 MB, a hole), but row 5's first
# value; y: a class per row
/usr/bin/python3 - "$out" <<'PY'
import os, sys
import numpy as np
from numpy.lib import format as fmt
d = sys.argv[1]
n, k = 100000, 1000
with open(f"{d}/x.npy", "wb") as f:
    fmt.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (n, k)})
    off = f.tell()
    f.seek(off + (5 * k) * 4)
    f.write(np.float32(2.5).tobytes())
os.truncate(f"{d}/x.npy", off + n * k * 4)
np.save(f"{d}/y.npy", np.random.RandomState(0).randint(0, 2, size=n).astype(np.int64))
PY
check "the features file is 400 MB" test "$(stat -c %s "$out/x.npy")" -gt 400000000
cat >"$out/big.lua" <<'LUA'
model "big"
data = npy { train = { x = "x.npy", y = "y.npy" }, valid = 0.1 }
local x = input { 1000 }
local y = labels { classes = 2 }
minimize(cross_entropy(linear(x, 2), y))
optimizer = sgd { lr = 0.1 }
train { batch = 100, epochs = 1, seed = 1 }
LUA
gen_build "$out/big.lua" "$out/big" >"$out/build.log" 2>&1
check "the model of the 400 MB file builds" test -x "$out/big/big"

# one BLAS thread: OpenBLAS's pool and each of its threads' malloc arena
# would take address space by the core
limited() { (ulimit -v 307200 && cd "$out/big" && OPENBLAS_NUM_THREADS=1 timeout $((120 * time_factor)) "$@"); }
limited ./big train --threads 1 --weights limited.w >"$out/limited.out" 2>&1
rc=$?
check "trains under a 300 MiB address-space limit (exit $rc)" \
    sh -c "test $rc -eq 0 && grep -q '^train loss' '$out/limited.out'"
(cd "$out/big" && ./big train --threads 1 --weights mapped.w >"$out/mapped.out" 2>&1)
check "the same weights as without the limit, where the file is mapped" \
    cmp -s "$out/big/limited.w" "$out/big/mapped.w"
check "the same figures" test "$(tail -1 "$out/limited.out")" = "$(tail -1 "$out/mapped.out")"
limited ./big predict ../x.npy --weights mapped.w -o /dev/null >"$out/predict.out" 2>&1
rc=$?
check "control: the file read whole fails under that limit (exit $rc: $(head -1 "$out/predict.out"))" \
    sh -c "test $rc -eq 1 && grep -q 'out of memory' '$out/predict.out'"
