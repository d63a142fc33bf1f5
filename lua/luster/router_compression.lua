--- router.compression{threshold=1024} — compress responses by the
--- request's Accept-Encoding (br, gzip or deflate), as Express's
--- `compression` package does.
---
--- The middleware wraps the response's write/finish for this request only.
--- Nothing is decided until the body starts, because only then are the
--- status and headers final: the first write() or finish() looks at them
--- and either compresses or lets the response through untouched.  It is
--- skipped when the filter says the type is not worth it (default: text,
--- JSON, JavaScript, XML, SVG...), when Cache-Control has no-transform,
--- for HEAD, 1xx/204/206/304, when Content-Encoding is already set, when the
--- body is known (Content-Length, or the one finish(data)) to be below
--- `threshold`, and when the client accepts no coding we have.  Vary:
--- Accept-Encoding is added whenever the answer depends on that header.
---
--- Two shapes, because most responses are one string (res:send, res:json):
---   * one finish(data) with nothing written before: compressed in one go,
---     on the loop up to SYNC_MAX bytes (fast, no hand-off), on libuv's
---     threadpool above it so a large body never blocks the loop;
---   * write() calls: through a zlib stream, with backpressure both ways --
---     the stream pauses while the socket's queue is full (res:write false
---     until its 'drain'), and the handler's res:write says false while the
---     compressor's input is full, 'drain' following when it empties.  So a
---     slow reader holds the server to a few buffers, whatever the size.
--- res:flush() pushes out what the compressor holds (Express's res.flush,
--- for a long-lived stream).
local zlib = require('zlib')
local errors = require('luster.errors')
local stream = require('luster.stream')

local type, tostring, tonumber, lower, find = type, tostring, tonumber, string.lower, string.find
local wstate = stream.wstate

-- Bodies up to this size are compressed on the loop: at level 6 this is
-- about a millisecond, cheaper than the threadpool's round trip.
local SYNC_MAX = 64 * 1024

local M = {}

-- ---- Accept-Encoding ----

-- name -> q of an Accept-Encoding value (a repeated name keeps its best q).
local function accepted(header)
  local q = {}
  for part in header:gmatch('[^,]+') do
    local name, params = part:match('^%s*([^;%s]+)%s*(.*)$')
    if name then
      local v = 1
      local qs = params:match(';%s*[qQ]%s*=%s*([%d%.]+)')
      if qs then v = tonumber(qs) or 0 end
      name = lower(name)
      if not q[name] or v > q[name] then q[name] = v end
    end
  end
  return q
end

-- The codings we offer, most preferred first: on equal q, br (smallest)
-- wins over gzip over deflate.
local PREFERENCE = { 'br', 'gzip', 'deflate' }

-- Clients send the same few header values again and again, and LuaJIT
-- does not compile pattern matching: answers for short values are
-- remembered, in a table dropped when it fills so memory stays bounded.
local function memo(fn)
  local cache, n = {}, 0
  return function(key)
    local v = cache[key]
    if v ~= nil then return v end
    v = fn(key)
    if #key <= 256 then
      if n >= 256 then cache, n = {}, 0 end
      cache[key], n = v, n + 1
    end
    return v
  end
end

local negotiate_string = memo(function(header)
  local q = accepted(header)
  local star = q['*']
  local best, best_q = 'identity', 0
  for i = 1, #PREFERENCE do
    local enc = PREFERENCE[i]
    local v = q[enc] or star or 0
    if v > best_q then best, best_q = enc, v end
  end
  local identity = q.identity
  if identity and identity > best_q then return 'identity' end
  return best
end)

--- The coding to use for an Accept-Encoding value: 'br', 'gzip',
--- 'deflate' or 'identity' (none acceptable, no header, or identity
--- preferred by a higher q).
---@param header? string|string[]
---@return string
function M.negotiate(header)
  if type(header) == 'table' then header = table.concat(header, ',') end
  if type(header) ~= 'string' or header == '' then return 'identity' end
  return negotiate_string(header)
end

-- ---- what is worth compressing ----

-- Types outside the families below that still compress well.
local COMPRESSIBLE = {
  ['application/x-www-form-urlencoded'] = true, ['application/wasm'] = true,
  ['application/graphql'] = true, ['application/toml'] = true, ['application/yaml'] = true,
  ['application/x-yaml'] = true, ['application/vnd.ms-fontobject'] = true,
  ['application/x-font-ttf'] = true, ['font/ttf'] = true, ['font/otf'] = true,
  ['image/bmp'] = true, ['image/x-icon'] = true, ['image/vnd.microsoft.icon'] = true,
}

local function first(v)
  if type(v) == 'table' then v = v[1] end
  return v ~= nil and tostring(v) or nil
end

local compressible_type = memo(function(ctype)
  local t = lower(ctype):match('^%s*([^;%s]+)')
  if not t then return false end
  if t == 'text/event-stream' then return false end
  if find(t, '^text/') or find(t, 'json', 1, true) or find(t, 'javascript', 1, true)
      or find(t, 'ecmascript', 1, true) or find(t, 'xml', 1, true) then
    return true
  end
  return COMPRESSIBLE[t] or false
end)

--- Whether a Content-Type is worth compressing: text/*, JSON,
--- JavaScript, XML and SVG (+json, +xml) and a few more.  An event stream
--- is not, by default: each event must reach the client at once.
---@param ctype? string
---@return boolean
function M.compressible(ctype)
  ctype = first(ctype)
  if not ctype then return false end
  return compressible_type(ctype)
end

--- The default filter (Express's compression.filter): the response's
--- Content-Type is compressible.
---@param req IncomingMessage
---@param res ServerResponse
---@return boolean
function M.filter(req, res) return M.compressible(res:getHeader('content-type')) end

-- ---- options ----

local UNITS = { b = 1, kb = 1024, mb = 1024 ^ 2, gb = 1024 ^ 3 }
local function parse_threshold(v)
  if v == nil then return 1024 end
  if type(v) == 'number' and v >= 0 then return v end
  if type(v) == 'string' then
    local n, unit = lower(v):match('^%s*([%d%.]+)%s*(%a*)%s*$')
    n = tonumber(n)
    unit = UNITS[unit == '' and 'b' or unit]
    if n and unit then return math.floor(n * unit) end
  end
  errors.throw('ERR_INVALID_ARG_VALUE',
    'The "threshold" option must be a number of bytes or a string like "1kb". Received %s', tostring(v))
end

-- The engines' options for each coding, checked once, here.
local function engine_options(opts)
  local deflate = {}
  for _, k in ipairs { 'level', 'windowBits', 'memLevel', 'strategy', 'chunkSize' } do deflate[k] = opts[k] end
  local brotli_in = opts.brotli or {}
  if type(brotli_in) ~= 'table' then errors.check_type(brotli_in, 'options.brotli', 'table') end
  -- quality 4 (not brotli's 11) as Express: on-the-fly compression must
  -- be fast; 4 is still smaller than gzip's 6 for text
  local params = { [zlib.constants.BROTLI_PARAM_QUALITY] = 4 }
  for k, v in pairs(brotli_in.params or {}) do params[k] = v end
  local brotli = { chunkSize = brotli_in.chunkSize or opts.chunkSize, params = params }
  zlib._options(deflate)
  zlib._options(brotli)
  return { gzip = deflate, deflate = deflate, br = brotli }
end

-- coding -> one-shot function name, stream constructor
local ONE_SHOT = { gzip = 'gzip', deflate = 'deflate', br = 'brotliCompress' }
local STREAM = { gzip = 'createGzip', deflate = 'createDeflate', br = 'createBrotliCompress' }

-- ---- headers ----

-- Headers may still change after writeHead() until the body starts (they
-- go out with it), but setHeader refuses once headersSent: let it.
local function edit_headers(res, fn, a, b)
  local sent = res.headersSent
  res.headersSent = false
  fn(res, a, b)
  res.headersSent = sent
end

local function add_vary(res)
  local v = res:getHeader('vary')
  if v == nil then return edit_headers(res, res.setHeader, 'Vary', 'Accept-Encoding') end
  local s = type(v) == 'table' and table.concat(v, ', ') or tostring(v)
  if find(s, '*', 1, true) then return end
  for field in s:gmatch('[^,%s]+') do
    if lower(field) == 'accept-encoding' then return end
  end
  edit_headers(res, res.setHeader, 'Vary', s .. ', Accept-Encoding')
end

local function no_transform(res)
  local cc = res:getHeader('cache-control')
  if type(cc) == 'table' then cc = table.concat(cc, ',') end
  return cc ~= nil and find(lower(tostring(cc)), 'no-transform', 1, true) ~= nil
end

local function write_after_end()
  error(errors.new('ERR_STREAM_WRITE_AFTER_END', 'write after end', 3), 3)
end

-- ---- the middleware ----

-- Options (router.CompressionOptions in types/router.lua): threshold
-- (bytes or '1kb', default 1024), level, memLevel, windowBits, strategy,
-- chunkSize, brotli = {params = {[BROTLI_PARAM_*] = v}}, filter(req, res).

--- The middleware.
---@param opts? router.CompressionOptions
---@return function handler (req, res, nxt)
function M.new(opts)
  if opts ~= nil and type(opts) ~= 'table' then errors.check_type(opts, 'options', 'table') end
  opts = opts or {}
  local threshold = parse_threshold(opts.threshold)
  local filter = opts.filter or M.filter
  if type(filter) ~= 'function' then errors.check_type(filter, 'options.filter', 'function') end
  local engine = engine_options(opts)

  return function(req, res, nxt)
    -- the methods below this middleware (another wrapper, or the class's)
    local base_write, base_finish, base_reset = res.write, res.finish, res._reset_headers
    local decided, coding = false, nil -- coding: nil (pass through) or 'br'/'gzip'/'deflate'
    local z                             -- the zlib stream of a streamed body
    local ending = false                -- finish() was called; the last bytes may still be on their way
    local user_blocked, sock_blocked, forwarding = false, false, false

    -- The coding for this response, or nil; sets the headers it needs.
    -- `length`: the whole body's size when known (one finish(data)).
    local function choose(length)
      decided = true
      if not filter(req, res) or no_transform(res) then return nil end
      add_vary(res)
      local status = res._status or res.statusCode
      -- a 206's Content-Range counts bytes of the identity body
      if status < 200 or status == 204 or status == 206 or status == 304 or req.method == 'HEAD' then return nil end
      local declared = tonumber(first(res:getHeader('content-length')))
      local size = declared or length
      if size and size < threshold then return nil end
      local ce = first(res:getHeader('content-encoding'))
      if ce and lower(ce) ~= 'identity' then return nil end
      local enc = M.negotiate(req.headers['accept-encoding'])
      if enc == 'identity' then return nil end
      edit_headers(res, res.setHeader, 'Content-Encoding', enc)
      edit_headers(res, res.removeHeader, 'Content-Length')
      return enc
    end

    -- A streamed body: the compressor's output goes to the socket, paused
    -- while the socket's queue is full.
    local function start_stream()
      local zs = zlib[STREAM[coding]](engine[coding])
      z = zs
      -- as after any write: the head is committed (an error now resets it)
      res.headersSent = true
      -- a stream dropped by an error response may still have output on
      -- its way: only the current one writes
      local function current() return z == zs and not res.finished end
      zs:on('data', function(out)
        if current() and not base_write(res, out) then
          sock_blocked = true
          zs:pause()
        end
      end)
      zs:on('end', function() if current() then base_finish(res) end end)
      zs:on('error', function(err)
        if not current() then return end
        io.stderr:write('router.compression: ', errors.describe(err), '\n')
        res:destroy()
      end)
      -- the compressor's input has room again: the handler may write
      zs:on('drain', function()
        if not current() or not user_blocked then return end
        user_blocked = false
        if not sock_blocked then wstate(res).need_drain = false end
        forwarding = true
        res:emit('drain')
        forwarding = false
      end)
      -- the socket's queue emptied: feed it again
      res:on('drain', function()
        if forwarding or not sock_blocked or z ~= zs then return end
        sock_blocked = false
        zs:resume()
      end)
      res:once('close', function() if not zs.destroyed then zs:destroy() end end)
    end

    local function write(self, chunk)
      if ending then return write_after_end() end
      if not decided and not self._started then
        coding = choose(nil)
        if coding then start_stream() end
      end
      if not z then return base_write(self, chunk) end
      if chunk == nil or chunk == '' then
        -- flushHeaders() or a probe: nothing to compress
        return not user_blocked and not sock_blocked
      end
      if type(chunk) == 'number' then chunk = tostring(chunk) end
      local ok = z:write(chunk)
      if not ok then
        user_blocked = true
        wstate(self).need_drain = true
      end
      return ok
    end

    local function finish(self, data)
      if ending or self.finished then return self end
      if type(data) == 'number' then data = tostring(data) end
      if not decided and not self._started then
        coding = choose(type(data) == 'string' and #data or 0)
        if coding and type(data) ~= 'string' then start_stream() end -- a body of another kind: stream it
      end
      if z then
        ending = true
        if data ~= nil and data ~= '' then z:write(data) end
        z:finish()
        return self
      end
      if not coding then return base_finish(self, data) end
      -- one string, the whole body
      ending = true
      if #data <= SYNC_MAX then return base_finish(self, zlib[ONE_SHOT[coding] .. 'Sync'](data, engine[coding])) end
      zlib[ONE_SHOT[coding]](data, engine[coding], function(err, out)
        if self.destroyed or self.finished then return end -- the client went away meanwhile
        if err then
          io.stderr:write('router.compression: ', errors.describe(err), '\n')
          return self:destroy()
        end
        base_finish(self, out)
      end)
      return self
    end

    res.write, res.finish, res['end'] = write, finish, finish

    -- An error response replaces the handler's: if none of the compressed
    -- body went out yet, drop the compressor and decide afresh.
    res._reset_headers = function(self)
      if z and not self._started then
        z:destroy()
        z, coding, decided, ending = nil, nil, false, false
        user_blocked, sock_blocked = false, false
      elseif not self._started then
        decided, coding = false, nil
      end
      return base_reset(self)
    end

    --- Send what the compressor holds now (a long-lived stream).
    res.flush = function()
      if z and not ending then z:flush() end
    end

    return nxt()
  end
end

return setmetatable(M, { __call = function(_, opts) return M.new(opts) end })
