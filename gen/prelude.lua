-- gen/prelude.lua — composite ops: spec functions that are expressions of
-- other ops, as torch defines them. trainc carries this file in its binary
-- and runs it in each spec's sandbox before the spec, so these are globals
-- of the spec like the built-in ones. The generated code names the spec
-- line that called one and the line here that made each op ("-- spec.lua:12,
-- via mish at gen/prelude.lua:20"); errors name the spec line. Autodiff
-- differentiates the expression: a composite needs no backward rule.
--
-- `...` holds what only the prelude sees: tensor(x, fname) is x as a
-- tensor (a number becomes a constant), or the spec's error "bad argument
-- #1 to 'fname' (tensor expected, got ...)". A layer maker for sequential
-- returns the function: function Mish() return mish end.
local tensor = (...).tensor

-- silu(x) = x σ(x), torch's F.silu (swish); SiLU() for sequential
function silu(x) x = tensor(x, "silu"); return x * sigmoid(x) end
function SiLU() return silu end

-- mish(x) = x tanh(softplus(x)), torch's F.mish; Mish() for sequential
function mish(x) x = tensor(x, "mish"); return x * tanh(softplus(x)) end
function Mish() return mish end

-- softsign(x) = x / (1 + |x|), torch's F.softsign; Softsign() for sequential
function softsign(x) x = tensor(x, "softsign"); return x / (1 + abs(x)) end
function Softsign() return softsign end
