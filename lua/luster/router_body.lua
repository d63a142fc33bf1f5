--- Body parsers for the router, as Express's body-parser: each is a
--- middleware that, for a request whose Content-Type it takes, reads the
--- body and sets req.body, or passes an error on with a status:
---   400 the body does not parse (type 'entity.parse.failed'),
---       or the client stopped sending (type 'request.aborted')
---   413 the body is over `limit` (type 'entity.too.large'), found from
---       Content-Length before reading, or while a chunked body arrives
---   415 a Content-Encoding other than identity (type 'encoding.unsupported')
--- A request already parsed (req.body set) or of another type passes on
--- untouched; req:body() (IncomingMessage's method) then still reads it.
---
---   router.json{limit=, type=, strict=}  JSON (strict: only an object or
---                                         array, as body-parser); empty -> {}
---   router.urlencoded{limit=, type=}     a=1&b=2 -> {a='1', b='2'}; repeats
---                                         become lists; no a[b]=c nesting
---   router.text{limit=, type=}           the body as a string (text/plain)
---   router.raw{limit=, type=}            the body as a string (octet-stream)
--- `limit` is bytes or a string '100kb' / '1mb' (default 100kb, as
--- body-parser); `type` a content type ('application/json'), a pattern
--- with '*' ('text/*', '*/*+json'), a list of them, or function(req).
local errors = require('luster.errors')
local Promise = require('luster.promise')
local json = require('json')
local incoming = require('luster.http_incoming')

local type, tonumber, lower, find, rawget = type, tonumber, string.lower, string.find, rawget
local concat = table.concat
local await = _G.await

local M = {}

-- ---- content types ----

-- 'application/json; charset=utf-8' -> 'application/json'
local function media_type(ctype)
  return lower(ctype:match('^%s*([^;%s]+)') or '')
end

-- Whether the media type matches one pattern: 'json' (a short name),
-- '+json' (a suffix), 'text/*', '*/*+json' or a full type.
local SHORT = { json = 'application/json', text = 'text/plain', html = 'text/html',
  urlencoded = 'application/x-www-form-urlencoded', form = 'application/x-www-form-urlencoded',
  multipart = 'multipart/*', raw = 'application/octet-stream' }
local function type_is(mt, pattern)
  pattern = lower(pattern)
  if pattern:sub(1, 1) == '+' then return mt:sub(-#pattern) == pattern end
  pattern = SHORT[pattern] or pattern
  local pt, ps = pattern:match('^([^/]+)/(.+)$')
  local mtt, mts = mt:match('^([^/]+)/(.+)$')
  if not pt or not mtt then return false end
  if pt ~= '*' and pt ~= mtt then return false end
  if ps == '*' or ps == mts then return true end
  if ps:sub(1, 2) == '*+' then return mts:sub(-(#ps - 1)) == ps:sub(2) end
  return false
end

--- Whether a Content-Type header value matches a type pattern.
---@param ctype string
---@param pattern string
---@return boolean
function M.type_matches(ctype, pattern)
  return type_is(media_type(ctype), pattern)
end

local function matcher(spec, default)
  spec = spec or default
  if type(spec) == 'function' then return spec end
  if type(spec) == 'string' then spec = { spec } end
  if type(spec) ~= 'table' then
    errors.throw('ERR_INVALID_ARG_TYPE', 'The "type" option must be a string, a list or a function')
  end
  return function(req)
    local ctype = req.headers['content-type']
    if not ctype then return false end
    local mt = media_type(ctype)
    for i = 1, #spec do
      if type_is(mt, spec[i]) then return true end
    end
    return false
  end
end

-- '100kb' -> 102400 (body-parser's bytes() units)
local UNITS = { b = 1, kb = 1024, mb = 1024 ^ 2, gb = 1024 ^ 3 }
local function parse_limit(limit)
  if limit == nil then return 100 * 1024 end
  if type(limit) == 'number' and limit >= 0 then return limit end
  if type(limit) == 'string' then
    local n, unit = limit:lower():match('^%s*([%d%.]+)%s*(%a*)%s*$')
    n = tonumber(n)
    if n and UNITS[unit == '' and 'b' or unit] then return math.floor(n * UNITS[unit == '' and 'b' or unit]) end
  end
  errors.throw('ERR_INVALID_ARG_VALUE', 'The "limit" option must be a number of bytes or a string like "100kb". Received %s',
    tostring(limit))
end

-- ---- reading ----

local function http_error(status, kind, message)
  local e = errors.new(status == 413 and 'ERR_HTTP_BODY_TOO_LARGE' or 'ERR_HTTP_BAD_BODY', message, 3)
  e.status, e.statusCode, e.type, e.expose = status, status, kind, true
  return e
end

local function too_large(limit)
  return http_error(413, 'entity.too.large', ('request entity too large (limit %d bytes)'):format(limit))
end

local function aborted(err)
  if type(err) == 'table' and err.status == 413 then return too_large(0) end
  return http_error(400, 'request.aborted', 'request aborted')
end

-- A chunked body, counted as it arrives: stops keeping it past the limit.
local function read_streaming(req, limit)
  return Promise.new(function(resolve, reject)
    local parts, size, over = {}, 0, false
    req:on('data', function(chunk)
      if over then return end
      size = size + #chunk
      if size > limit then
        over, parts = true, nil
        return reject(too_large(limit))
      end
      parts[#parts + 1] = chunk
    end)
    req:on('end', function() if not over then resolve(concat(parts)) end end)
    req:on('aborted', function() if not over then reject(aborted(req._error)) end end)
  end)
end

-- The whole body as a string, or nil and the error to pass on.
local function read_body(req, limit)
  local len = req.headers['content-length']
  if len then
    len = tonumber(len)
    if len and len > limit then return nil, too_large(limit) end
  end
  local ok, raw
  if len or req.complete then
    ok, raw = pcall(await, req:body())
    if not ok then return nil, aborted(raw) end
    if #raw > limit then return nil, too_large(limit) end
  else
    ok, raw = pcall(await, read_streaming(req, limit))
    if not ok then return nil, raw end
  end
  return raw
end

-- A parser middleware: takes(req) says whether it is its type, parse(raw)
-- returns the value or nil and an error.
local function parser(kind, opts, default_type, parse)
  if opts ~= nil and type(opts) ~= 'table' then errors.check_type(opts, 'options', 'table') end
  opts = opts or {}
  local limit = parse_limit(opts.limit)
  local takes = matcher(opts.type, default_type)
  local is_json = kind == 'json'
  local fn = function(req, res, nxt)
    if is_json then req._json_seen = true end
    if rawget(req, 'body') ~= nil or not takes(req) then return nxt() end
    local enc = req.headers['content-encoding']
    if enc and lower(enc) ~= 'identity' then
      return nxt(http_error(415, 'encoding.unsupported', 'unsupported content encoding "' .. enc .. '"'))
    end
    local raw, err = read_body(req, limit)
    if not raw then return nxt(err) end
    local value
    value, err = parse(raw)
    if value == nil then return nxt(err) end
    req.body = value
    return nxt()
  end
  return fn
end

local function parse_failed(message)
  return http_error(400, 'entity.parse.failed', message)
end

---@param opts? {limit?: number|string, type?: any, strict?: boolean}
---@return function middleware
function M.json(opts)
  local strict = not (opts and opts.strict == false)
  return parser('json', opts, { 'application/json', '*/*+json' }, function(raw)
    if not find(raw, '[^ \t\r\n]') then return {} end
    if strict and not find(raw, '^[ \t\r\n]*[{%[]') then
      return nil, parse_failed('invalid JSON body: only an object or an array is accepted (strict)')
    end
    local value, err = json.decode(raw, { safe = true })
    if value == nil and err then return nil, parse_failed('invalid JSON body: ' .. err) end
    return value
  end)
end

---@param opts? {limit?: number|string, type?: any}
---@return function middleware
function M.urlencoded(opts)
  return parser('urlencoded', opts, 'application/x-www-form-urlencoded', function(raw)
    return incoming.parse_query(raw)
  end)
end

---@param opts? {limit?: number|string, type?: any}
---@return function middleware
function M.text(opts)
  return parser('text', opts, 'text/plain', function(raw) return raw end)
end

---@param opts? {limit?: number|string, type?: any}
---@return function middleware
function M.raw(opts)
  return parser('raw', opts, 'application/octet-stream', function(raw) return raw end)
end

return M
