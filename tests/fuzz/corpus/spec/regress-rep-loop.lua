local t = {} for i = 1, 1e9 do  ('x'):rep(100000) end
