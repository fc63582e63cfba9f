#!/usr/bin/env python3
"""torch_step.py — PyTorch 1.13's train-step time for the benchmark models.

usage: /usr/bin/python3 tests/bench/torch_step.py MODEL THREADS STEPS [OPTIM]
  MODEL: fashion_mlp (784-256-128-10 ReLU, CrossEntropy, SGD lr 0.1, batch 64)
         xor         (2-8-1, tanh then sigmoid, BCE, SGD lr 0.5, batch 4)
         lenet       (conv 5x5 1->8, max pool 2, relu, conv 5x5 8->16, max pool 2,
                      relu, linear -> 10, CrossEntropy, Adam lr 1e-3, batch 64)
         fashion_cnn (models/fashion_cnn.lua: two blocks conv 3x3 pad 1 no bias 1->16
                      and 16->32, batch norm, relu, max pool 2; linear 1568 -> 128,
                      relu, dropout 0.3, linear -> 10; Adam lr 2e-3, batch 64; the
                      cosine schedule's per-step cost is left out)
OPTIM (fashion_mlp only): sgd (the default, lr 0.1), adam or rmsprop (lr 1e-3,
torch's other defaults), as bench.sh's fashion_mlp_optim specs.
A step is zero_grad + forward + loss + backward + optimizer.step on a batch
already in memory (contiguous slices of a random float32 tensor, as views).
Warm-up, then 5 blocks of STEPS steps; prints "torch_us <min wall us per
step>", "torch_cpu_us <min process CPU us per step>" (all threads together)
and "torch_median_us <median wall>". Not part of the test run."""
import statistics
import sys
import time

import torch
import torch.nn as nn


def main():
    model, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    optim = sys.argv[4] if len(sys.argv) > 4 else "sgd"
    if optim not in ("sgd", "adam", "rmsprop") or (optim != "sgd" and model != "fashion_mlp"):
        sys.exit(f"unknown optimizer {optim} for {model}")
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    if model == "fashion_mlp":
        batch, nb = 64, 256
        net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                            nn.Linear(128, 10))
        lossf = nn.CrossEntropyLoss()
        X = torch.rand(nb * batch, 784)
        Y = torch.randint(0, 10, (nb * batch,))
        lr = 0.1
    elif model == "xor":
        batch, nb = 4, 1
        net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())
        lossf = nn.BCELoss()
        X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
        lr = 0.5
    elif model == "lenet":
        batch, nb = 64, 256
        net = nn.Sequential(nn.Conv2d(1, 8, 5), nn.MaxPool2d(2), nn.ReLU(),
                            nn.Conv2d(8, 16, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                            nn.Linear(256, 10))
        lossf = nn.CrossEntropyLoss()
        X = torch.rand(nb * batch, 1, 28, 28)
        Y = torch.randint(0, 10, (nb * batch,))
        lr = 1e-3
    elif model == "fashion_cnn":
        batch, nb = 64, 256

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU(), nn.MaxPool2d(2)]
        net = nn.Sequential(*block(1, 16), *block(16, 32), nn.Flatten(), nn.Linear(1568, 128),
                            nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
        lossf = nn.CrossEntropyLoss()
        X = torch.rand(nb * batch, 1, 28, 28)
        Y = torch.randint(0, 10, (nb * batch,))
        lr = 2e-3
    else:
        sys.exit(f"unknown model {model}")
    if model in ("lenet", "fashion_cnn"):
        opt = torch.optim.Adam(net.parameters(), lr=lr)
    elif optim == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    elif optim == "rmsprop":
        opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=lr)
    batches = [(X[i * batch:(i + 1) * batch], Y[i * batch:(i + 1) * batch]) for i in range(nb)]

    def run(n):
        for s in range(n):
            xb, yb = batches[s % nb]
            opt.zero_grad()
            loss = lossf(net(xb), yb)
            loss.backward()
            opt.step()
        return loss

    run(max(50, steps // 5))  # warm-up
    times, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        run(steps)
        times.append((time.perf_counter() - t0) / steps)
        cpu.append((time.process_time() - c0) / steps)
    print(f"torch_us {min(times) * 1e6:.2f}")
    print(f"torch_cpu_us {min(cpu) * 1e6:.2f}")
    print(f"torch_median_us {statistics.median(times) * 1e6:.2f}")
    print(f"torch_threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
