--- Memory figures of this process, for specs that bound what a workload holds.
local M = {}

--- Resident set size in KiB (VmRSS of /proc/self/status).
function M.rss_kib()
  local f = assert(io.open('/proc/self/status'))
  local s = f:read('*a')
  f:close()
  return tonumber(s:match('VmRSS:%s*(%d+)'))
end

return M
