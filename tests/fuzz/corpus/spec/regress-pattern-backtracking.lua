local s = string.rep("a", 20000)
local r = s:find(".-.-.-b")
