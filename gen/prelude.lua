-- gen/prelude.lua — composite ops: functions of a spec that are
-- expressions of other ops, written as torch defines them. trainc runs this
-- file (embedded in its binary) in each spec's sandbox before the spec, so
-- these are globals of the spec like the built-in ones; the generated code
-- names the spec line that called one and the line here that made each op
-- ("-- spec.lua:12, via mish at gen/prelude.lua:20"). Autodiff
-- differentiates the expression: a composite needs no backward rule.
--
-- `...` holds what only the prelude sees: tensor(x, fname) checks that
-- argument 1 of fname is a tensor (numbers become constants), with the
-- spec's error message; layer(f) makes the layer of f for sequential.
local internal = ...
local tensor, layer = internal.tensor, internal.layer
