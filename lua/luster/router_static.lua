--- router.static(root[, opts]): serve the files under root (Express's
--- serve-static over send).
---
--- For GET and HEAD: Content-Type by extension, Content-Length, ETag
--- (weak, from size and mtime) and Last-Modified, with 304 for a matching
--- If-None-Match or a not-older If-Modified-Since and 412 for a failed
--- If-Match / If-Unmodified-Since; one byte range (Range: bytes=a-b, a-,
--- -n) gives 206, an unsatisfiable one 416, several are answered with the
--- whole file (RFC 9110 allows it), If-Range is honoured; a directory
--- serves its index.html, or without its trailing slash is redirected
--- (301) to it.  Large files are sent piece by piece (CHUNK bytes read at
--- a time on the threadpool), never read whole into memory.
---
--- Where a request may lead: the path (relative to where the middleware
--- is mounted) is percent-decoded once; an invalid escape, an encoded '/'
--- or '\', a NUL, a backslash or a '..' segment is refused with 400; a
--- name starting with '.' is not served (opts.dotfiles: 'ignore' -> 404,
--- the default; 'deny' -> 403; 'allow').  Symbolic links are followed only
--- while they stay inside root: the file's real path (realpath(3)) must be
--- under root's real path, else 404, so a link out of root serves nothing.
---
--- Options (serve-static's names): index ('index.html', a list, or false),
--- fallthrough (default true: a missing file or refused path passes on
--- with nxt() so a later route can answer; false: nxt(err) with the
--- status), redirect (true), dotfiles ('ignore'), etag (true),
--- lastModified (true), maxAge (ms or '1d', Cache-Control max-age),
--- immutable (false), setHeaders(res, path, stat).
local errors = require('luster.errors')
local Promise = require('luster.promise')
local native = require('native.fs')
local mime = require('luster.router_mime')

local type, tonumber, floor, fmt, find, sub = type, tonumber, math.floor, string.format, string.find, string.sub
local char, lower = string.char, string.lower
local await = _G.await

local M = {}

local CHUNK = 64 * 1024

-- One fs operation on the threadpool: the result, or nil and the error.
local function fsop(op, a, b, c)
  local p = Promise.new(function(resolve)
    local function cb(err, r) resolve({ err, r }) end
    if c ~= nil then native.async(op, a, b, c, cb)
    elseif b ~= nil then native.async(op, a, b, cb)
    else native.async(op, a, cb) end
  end)
  local r = await(p)
  if r[1] then return nil, r[1] end
  return r[2]
end

-- ---- the request path ----

-- The path's segments, percent-decoded, or nil and the status to refuse it
-- with.
local function decode_path(p, dotfiles)
  if find(p, '%%2[fF]') or find(p, '%%5[cC]') then return nil, 400 end
  if find(p, '%', 1, true) then
    if find(p, '%%%X') or find(p, '%%%x%X') or find(p, '%%.?$') then return nil, 400 end
    p = p:gsub('%%(%x%x)', function(h) return char(tonumber(h, 16)) end)
  end
  if find(p, '[%z\\]') then return nil, 400 end
  local segs = {}
  for seg in p:gmatch('[^/]+') do
    if seg == '..' then return nil, 400 end
    if seg ~= '.' then
      if sub(seg, 1, 1) == '.' and dotfiles ~= 'allow' then return nil, dotfiles == 'deny' and 403 or 404 end
      segs[#segs + 1] = seg
    end
  end
  return segs
end

-- ---- dates and validators ----

local function http_date(ms)
  return os.date('!%a, %d %b %Y %H:%M:%S GMT', floor(ms / 1000))
end

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6, jul = 7, aug = 8, sep = 9, oct = 10,
  nov = 11, dec = 12 }
-- Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- An IMF-fixdate ('Sun, 06 Nov 1994 08:49:37 GMT') as seconds, or nil.
local function parse_http_date(s)
  if type(s) ~= 'string' then return nil end
  local d, mon, y, h, mi, sec = s:match('^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$')
  local m = mon and MONTHS[lower(mon)]
  if not m then return nil end
  return days_from_civil(tonumber(y), m, tonumber(d)) * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60
    + tonumber(sec)
end

local function etag_of(st)
  return fmt('W/"%x-%x"', st.size, floor(st.mtimeMs))
end

-- Whether an If-Match / If-None-Match list names the tag ('*' names any);
-- weak comparison, as If-None-Match wants.
local function tag_listed(list, tag)
  if list:match('^%s*%*%s*$') then return true end
  local bare = tag:gsub('^W/', '')
  for t in list:gmatch('[^,]+') do
    t = t:match('^%s*(.-)%s*$'):gsub('^W/', '')
    if t == bare then return true end
  end
  return false
end

-- ---- ranges ----

-- The one range asked for as start, finish (inclusive); 'unsatisfiable';
-- or nil to send the whole file (no usable Range, or several ranges).
local function parse_range(header, size)
  local spec = header:match('^%s*bytes%s*=%s*(.-)%s*$')
  if not spec then return nil end
  local found, any_valid = nil, false
  for part in spec:gmatch('[^,]+') do
    local a, b = part:match('^%s*(%d*)%s*%-%s*(%d*)%s*$')
    if not a or (a == '' and b == '') then return nil end
    local s, e
    if a == '' then
      local n = tonumber(b)
      s, e = size - n, size - 1
      if s < 0 then s = 0 end
      if n == 0 then s = nil end
    else
      s, e = tonumber(a), b ~= '' and tonumber(b) or size - 1
      if b ~= '' and e < s then return nil end -- not a valid range at all: ignore the header
      if e > size - 1 then e = size - 1 end
    end
    if s and s < size then
      if any_valid then return nil end -- several ranges: the whole file
      found, any_valid = { s, e }, true
    end
  end
  if not found then return 'unsatisfiable' end
  return found[1], found[2]
end

-- ---- sending ----

local function max_age_seconds(v)
  if v == nil then return 0 end
  if type(v) == 'number' then return floor(v / 1000) end
  local n, unit = tostring(v):match('^%s*(%d+)%s*(%a*)%s*$')
  local mult = { [''] = 1 / 1000, ms = 1 / 1000, s = 1, m = 60, h = 3600, d = 86400, w = 604800, y = 31536000 }
  if n and mult[unit] then return floor(tonumber(n) * mult[unit]) end
  errors.throw('ERR_INVALID_ARG_VALUE', 'The "maxAge" option must be ms or a string like "1d". Received %s', tostring(v))
end

-- Whether the client's cached copy is still good (fresh's rules).
local function fresh(h, etag, mtime_s)
  local cc = h['cache-control']
  if cc and find(lower(cc), 'no-cache', 1, true) then return false end
  local inm = h['if-none-match']
  if inm then return etag ~= nil and tag_listed(inm, etag) end
  local ims = parse_http_date(h['if-modified-since'])
  return ims ~= nil and mtime_s ~= nil and mtime_s <= ims
end

local function precondition_failed(h, etag, mtime_s)
  local im = h['if-match']
  if im then
    if im:match('^%s*%*%s*$') then return false end
    -- If-Match compares strongly: a weak tag (ours) never matches
    if not etag or find(etag, '^W/') then return true end
    return not tag_listed(im, etag)
  end
  local ius = parse_http_date(h['if-unmodified-since'])
  return ius ~= nil and mtime_s ~= nil and mtime_s > ius
end

local function bare(res, status, headers)
  res.statusCode = status
  for k, v in pairs(headers or {}) do res:setHeader(k, v) end
  res:finish()
end

-- write() returns false once the connection's queue is long (64 KiB).
-- With the server's 'drain' (Node's res.writableNeedDrain is then not
-- nil), wait for it.  Without it, ask again every few ms: an empty
-- write() sends nothing and answers whether the queue is short again.
-- Either way a slow client holds at most about one queue of the file in
-- memory, however large the file.
local setTimeout = require('timers').setTimeout
local function wait_writable(res)
  if res.writableNeedDrain ~= nil then
    if not res.writableNeedDrain or res.finished then return end
    return await(Promise.new(function(resolve)
      local function go()
        res:removeListener('drain', go)
        res:removeListener('close', go)
        resolve()
      end
      res:on('drain', go)
      res:on('close', go)
    end))
  end
  local delay = 1
  while not res.finished and not res.destroyed and not res:write('') do
    await(Promise.new(function(resolve) setTimeout(resolve, delay) end))
    if delay < 4 then delay = delay * 2 end
  end
end

-- Writes [from, to] of the file to res piece by piece.
local function stream(res, file, from, to)
  local pos = from
  while pos <= to do
    local n = to - pos + 1
    if n > CHUNK then n = CHUNK end
    local data, err = fsop('readrange', file, pos, n)
    if res.finished then return end -- the client went away meanwhile
    if not data or #data ~= n then
      -- the file shrank or could not be read after the head went out:
      -- the promised length cannot be kept, so the connection is closed
      if not data then io.stderr:write('router.static: ', tostring(err), '\n') end
      return res:destroy()
    end
    pos = pos + n
    if pos > to then return res:finish(data) end
    if not res:write(data) then wait_writable(res) end
  end
end

--- Send one regular file (st: its stat) for req.  Exposed for res:sendFile.
function M.send_file(req, res, file, st, o)
  o = o or {}
  local h = req.headers
  local size = st.size
  local etag = o.etag ~= false and etag_of(st) or nil
  local mtime_s = floor(st.mtimeMs / 1000)
  local last_modified = o.lastModified ~= false and http_date(st.mtimeMs) or nil
  if not res:getHeader('content-type') then
    res:setHeader('Content-Type', mime.lookup(file) or mime.default)
  end
  res:setHeader('Accept-Ranges', 'bytes')
  if not res:getHeader('cache-control') then
    res:setHeader('Cache-Control', 'public, max-age=' .. (o.max_age or 0) .. (o.immutable and ', immutable' or ''))
  end
  if last_modified then res:setHeader('Last-Modified', last_modified) end
  if etag then res:setHeader('ETag', etag) end
  if o.setHeaders then o.setHeaders(res, file, st) end

  if precondition_failed(h, etag, last_modified and mtime_s) then
    res:removeHeader('Content-Type')
    return bare(res, 412, { ['Content-Length'] = 0 })
  end
  if fresh(h, etag, last_modified and mtime_s) then
    res:removeHeader('Content-Type')
    return bare(res, 304)
  end

  local from, to, status = 0, size - 1, 200
  local range = h.range
  if range and size >= 0 then
    local if_range = h['if-range']
    local use = true
    if if_range then
      if find(if_range, '"', 1, true) then
        -- the tag as we sent it (send's rule; RFC 9110 would refuse a weak
        -- tag, which would make resuming a download of ours never work)
        use = etag ~= nil and if_range == etag
      else
        local d = parse_http_date(if_range)
        use = d ~= nil and last_modified ~= nil and mtime_s <= d
      end
    end
    if use then
      local s, e = parse_range(range, size)
      if s == 'unsatisfiable' then
        res:removeHeader('Content-Type')
        return bare(res, 416, { ['Content-Range'] = 'bytes */' .. size, ['Content-Length'] = 0 })
      elseif s then
        from, to, status = s, e, 206
        res:setHeader('Content-Range', fmt('bytes %d-%d/%d', s, e, size))
      end
    end
  end
  res.statusCode = status
  res:setHeader('Content-Length', to - from + 1)
  if req.method == 'HEAD' or to < from then return res:finish() end
  return stream(res, file, from, to)
end

local function refused(status)
  local e = errors.new(status == 404 and 'ENOENT' or 'ERR_HTTP_BAD_PATH',
    status == 404 and 'no such file' or (status == 403 and 'forbidden path' or 'malformed path'), 3)
  e.status, e.statusCode, e.expose = status, status, true
  return e
end

local function index_list(index)
  if index == nil then return { 'index.html' } end
  if index == false then return {} end
  if type(index) == 'string' then return { index } end
  return index
end

-- Whether real (a realpath) is root_real or inside it.
local function inside(real, root_real)
  return real == root_real or sub(real, 1, #root_real + 1) == (root_real == '/' and '/' or root_real .. '/')
end

--- res:sendFile(path[, opts]): one file, with the headers, validators and
--- ranges of router.static.  path is absolute, or relative to opts.root
--- (then a '..' segment is refused with 403 and a dotfile as
--- opts.dotfiles says).  Waits for the file to be found; a file that is
--- not there raises an error with status 404 (the router's error
--- handlers get it), as Express passes it to next(err).
---@param req IncomingMessage
---@param res ServerResponse
---@param file string
---@param opts? table
function M.send_path(req, res, file, opts)
  errors.check_type(file, 'path', 'string')
  if opts ~= nil then errors.check_type(opts, 'options', 'table') end
  opts = opts or {}
  if opts.root then
    if find(file, '%z') then error(refused(400), 2) end
    local segs = {}
    for seg in file:gmatch('[^/]+') do
      if seg == '..' then error(refused(403), 2) end
      if seg ~= '.' then
        if sub(seg, 1, 1) == '.' and opts.dotfiles ~= 'allow' then
          error(refused(opts.dotfiles == 'deny' and 403 or 404), 2)
        end
        segs[#segs + 1] = seg
      end
    end
    file = opts.root:gsub('/$', '') .. '/' .. table.concat(segs, '/')
  elseif sub(file, 1, 1) ~= '/' then
    errors.throw('ERR_INVALID_ARG_VALUE', 'res:sendFile() needs an absolute path or a root option. Received %s', file)
  end
  local st = fsop('stat', file)
  if not st or not st.isFile then error(refused(404), 2) end
  return M.send_file(req, res, file, st, { etag = opts.etag, lastModified = opts.lastModified,
    max_age = max_age_seconds(opts.maxAge), immutable = opts.immutable, setHeaders = opts.setHeaders })
end

---@param root string the directory to serve
---@param opts? table
---@return function middleware
function M.serve(root, opts)
  errors.check_type(root, 'root', 'string')
  if opts ~= nil then errors.check_type(opts, 'options', 'table') end
  opts = opts or {}
  local fallthrough = opts.fallthrough ~= false
  local redirect = opts.redirect ~= false
  local dotfiles = opts.dotfiles or 'ignore'
  local index = index_list(opts.index)
  local send_opts = { etag = opts.etag, lastModified = opts.lastModified, max_age = max_age_seconds(opts.maxAge),
    immutable = opts.immutable, setHeaders = opts.setHeaders }
  local root_real -- resolved on first use (the directory may be made after the app)

  local function fail(nxt, status)
    if fallthrough then return nxt() end
    return nxt(refused(status))
  end

  -- The real path of file when it is inside root, and its stat; or nil.
  local function resolve(file)
    local real = fsop('realpath', file)
    if not real or not inside(real, root_real) then return nil end
    local st = fsop('stat', real)
    if not st then return nil end
    return real, st
  end

  return function(req, res, nxt)
    local method = req.method
    if method ~= 'GET' and method ~= 'HEAD' then
      if fallthrough then return nxt() end
      return bare(res, 405, { Allow = 'GET, HEAD', ['Content-Length'] = 0 })
    end
    local segs, status = decode_path(req.path, dotfiles)
    if not segs then return fail(nxt, status) end
    if not root_real then
      root_real = fsop('realpath', root)
      if not root_real then return fail(nxt, 404) end
    end
    local file = #segs > 0 and (root_real .. '/' .. table.concat(segs, '/')) or root_real
    local real, st = resolve(file)
    if not real then return fail(nxt, 404) end
    if st.isDirectory then
      -- as the client sees it: /static (mounted) is the directory without
      -- its slash, though the path inside the mount is '/'
      local orig = rawget(req, 'originalUrl') or req.url
      local p, q = orig:match('^([^?]*)(.*)$')
      if sub(p, -1) ~= '/' then
        if not redirect then return fail(nxt, 404) end
        p = p:gsub('^/+', '/') -- '//evil.example/x' would be another host's URL
        res.statusCode = 301
        res:setHeader('Location', p .. '/' .. q)
        res:setHeader('Content-Type', 'text/plain; charset=utf-8')
        return res:finish('Redirecting to ' .. p .. '/' .. q)
      end
      for _, name in ipairs(index) do
        local r2, st2 = resolve(real .. '/' .. name)
        if r2 and st2.isFile then return M.send_file(req, res, r2, st2, send_opts) end
      end
      return fail(nxt, 404)
    end
    if not st.isFile then return fail(nxt, 404) end
    return M.send_file(req, res, real, st, send_opts)
  end
end

return M
