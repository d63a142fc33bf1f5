--- A bounded stack of spare objects (the parsers of idle connections), so a
--- connection holds one only while it reads and the next connection to
--- read reuses it.  Last in, first out: the one most recently used goes
--- out first.
local M = {}
M.__index = M

---@param max integer how many spares to keep; the rest go to the collector
function M.new(max) return setmetatable({ n = 0, max = max }, M) end

--- A spare, or nil when there is none.
function M:take()
  local n = self.n
  if n == 0 then return nil end
  local p = self[n]
  self[n], self.n = nil, n - 1
  return p
end

--- Keep p as a spare if there is room; true if it was kept.
function M:give(p)
  local n = self.n
  if n >= self.max then return false end
  n = n + 1
  self[n], self.n = p, n
  return true
end

return M
