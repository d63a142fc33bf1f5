--- `luster -i --log DIR`: each instance's stdout and stderr go to
--- DIR/NAME-ID.out.log and DIR/NAME-ID.err.log, ID being the instance index
--- (LUSTER_INSTANCE), so a restarted instance keeps writing to its files.
--- Lines keep their `[worker id] ` prefix; --log-date puts an ISO-8601 UTC
--- timestamp before it.  --log-max-size MB rotates a file once it would
--- pass MB: NAME-ID.out.log becomes .out.log.1 (older ones shift up, the
--- oldest past --log-keep, default 5, is removed).  SIGUSR2 reopens every
--- file, for an external logrotate that moved them away.
--- Writes are plain blocking appends: a local file write is short, and
--- the lines stay in order with the primary's own.
local process = require('process')
local fs = require('fs')

local M = {}

local function stamp() return os.date('!%Y-%m-%dT%H:%M:%SZ ') end

function M.open(api, ops, o)
  local dir = o.log:gsub('/+$', '')
  fs.mkdirSync(dir, { recursive = true })
  local max = (tonumber(o['log-max-size']) or 0) * 1048576
  local keep = math.max(1, math.floor(tonumber(o['log-keep']) or 5))
  local dated = o['log-date'] ~= nil
  local files = {} -- path -> {f=, size=}
  api.log_dir = dir

  local function path_of(worker, fd)
    local index = worker.slot and worker.slot.index or 0
    return ('%s/%s-%d.%s.log'):format(dir, api.name, index, fd == 2 and 'err' or 'out')
  end

  local function open(path)
    local f, err = io.open(path, 'a')
    if not f then
      api.log('cannot open log file %s: %s', path, tostring(err))
      return nil
    end
    f:setvbuf('no')
    local entry = { f = f, size = f:seek('end') or 0 }
    files[path] = entry
    return entry
  end

  local function rotate(path, entry)
    entry.f:close()
    os.remove(path .. '.' .. keep)
    for k = keep - 1, 1, -1 do os.rename(path .. '.' .. k, path .. '.' .. (k + 1)) end
    os.rename(path, path .. '.1')
    files[path] = nil
    return open(path)
  end

  process:on('SIGUSR2', function()
    for path, entry in pairs(files) do
      entry.f:close()
      files[path] = nil
    end
    api.log('SIGUSR2: log files reopened')
  end)

  return function(worker, fd, text)
    if dated then
      local ts = stamp()
      text = text:gsub('([^\n]*\n)', function(l) return ts .. l end)
    end
    local path = path_of(worker, fd)
    local entry = files[path] or open(path)
    if not entry then return end
    if max > 0 and entry.size > 0 and entry.size + #text > max then
      entry = rotate(path, entry)
      if not entry then return end
    end
    entry.f:write(text)
    entry.size = entry.size + #text
  end
end

return M
