--- luster.fetch_classes — fetch's Request and Response, and the body they
--- share (text/json/arrayBuffer/bytes, `.body` as a Readable, bodyUsed).
--- A body is held as given: a string (typed arrays and ArrayBuffers become
--- one), or a Readable (lua/luster/stream.lua) that is read only once.
local stream = require('luster.stream')
local bytes = require('luster.bytes')
local errors = require('luster.errors')
local Headers = require('luster.fetch_headers')

local type, tostring = type, tostring

local M = {}

local function type_error(msg, level)
  local e = errors.new('TypeError', msg, (level or 2) + 1)
  e.name = 'TypeError'
  return e
end
M.type_error = type_error

local function is_readable(v) return type(v) == 'table' and type(v.read) == 'function' and type(v.pipe) == 'function' end
M.is_readable = is_readable

--- Normalise a body: nil, a string, or a Readable; plus a default
--- Content-Type when the body implies one.
function M.body_of(v)
  if v == nil then return nil end
  local t = type(v)
  if t == 'string' then return v, 'text/plain;charset=UTF-8' end
  if t == 'table' then
    local mt = getmetatable(v)
    if mt and mt.__name == 'URLSearchParams' then
      return tostring(v), 'application/x-www-form-urlencoded;charset=UTF-8'
    end
    if is_readable(v) then return v end
  end
  if t == 'cdata' then return bytes.of(v, 'body') end
  error(type_error('The body must be a string, a typed array, an ArrayBuffer, URLSearchParams or a readable stream', 3), 3)
end

-- ---- the body mixin ----

local Body = {}

local function take(self)
  if self.bodyUsed then
    return nil, type_error('Body is unusable: Body has already been read')
  end
  self.bodyUsed = true
  local src = rawget(self, '_source')
  if src == nil then return '' end
  if type(src) == 'string' then return src end
  return nil, nil, src
end

--- A promise of the body as a string.
function Body:text()
  local s, err, readable = take(self)
  if err then return Promise.reject(err) end
  if s then return Promise.resolve(s) end
  return readable:body()
end

--- A promise of the body decoded as JSON (json.decode: null is json.null).
function Body:json()
  return self:text():next(function(s)
    local ok, v = pcall(require('json').decode, s)
    if not ok then
      local e = errors.new('SyntaxError', 'Unexpected token in JSON: ' .. tostring(v))
      e.name = 'SyntaxError'
      error(e, 0)
    end
    return v
  end)
end

--- A promise of an ArrayBuffer holding the body.
function Body:arrayBuffer()
  return self:text():next(function(s)
    local ab = ArrayBuffer(#s)
    if #s > 0 then require('ffi').copy(ab._data, s, #s) end
    return ab
  end)
end

--- A promise of a Uint8Array holding the body.
function Body:bytes()
  return self:text():next(function(s) return bytes.to_uint8array(s) end)
end

-- `.body`: a Readable of the body (nil when there is none), made on first use.
local function body_stream(self)
  local src = rawget(self, '_source')
  if src == nil then return nil end
  if type(src) ~= 'string' then return src end
  local r = stream.Readable.new { read = function(s) s:push(src); s:push(nil) end }
  rawset(self, '_source', r)
  return r
end

-- Instances look in the body mixin first: Response.json (a constructor)
-- and response:json() (read the body) share a name, as in JavaScript.
local function index_with(class)
  return function(t, k)
    if k == 'body' then return body_stream(t) end
    if k == 'headers' then
      -- a fetched response's Headers, made from the parsed head on first use
      local raw = rawget(t, '_raw_headers')
      if raw then
        local h = Headers.from_raw(raw)
        rawset(t, 'headers', h)
        rawset(t, '_raw_headers', nil)
        return h
      end
    end
    local v = Body[k]
    if v ~= nil then return v end
    return class[k]
  end
end

-- ---- Response ----

---@class Response
-- (the defaults of a fetched response, which leaves them out: a smaller table)
local Response = { __name = 'Response', type = 'basic', redirected = false, bodyUsed = false }
Response.__index = index_with(Response)
M.Response = Response

local function status_text_ok(s) return type(s) == 'string' and not s:find('[\r\n]') end

--- Response(body, {status=, statusText=, headers=})
function Response.new(body, init)
  init = init or {}
  local status = init.status or 200
  if type(status) ~= 'number' or status < 200 or status > 599 or status % 1 ~= 0 then
    local e = errors.new('ERR_OUT_OF_RANGE', 'init["status"] must be in the range of 200 to 599, inclusive.')
    e.name = 'RangeError'
    error(e, 2)
  end
  if init.statusText ~= nil and not status_text_ok(init.statusText) then
    error(type_error('Invalid statusText'), 2)
  end
  local src, ctype = M.body_of(body)
  local headers = Headers.new(init.headers)
  if ctype and not headers:has('content-type') then headers:set('content-type', ctype) end
  return setmetatable({
    status = status, statusText = init.statusText or '', headers = headers,
    ok = status >= 200 and status < 300, url = '', redirected = false, type = 'default',
    bodyUsed = false, _source = src,
  }, Response)
end
setmetatable(Response, { __call = function(_, ...) return Response.new(...) end })

--- A JSON response: Response.json(value[, init]).
function Response.json(value, init)
  init = init or {}
  local headers = Headers.new(init.headers)
  if not headers:has('content-type') then headers:set('content-type', 'application/json') end
  return Response.new(require('json').encode(value), { status = init.status, statusText = init.statusText, headers = headers })
end

--- A network error response (status 0, type 'error').
function Response.error()
  local r = Response.new(nil)
  r.status, r.ok, r.type = 0, false, 'error'
  return r
end

--- A redirect to `url` (301, 302, 303, 307 or 308; default 302).
function Response.redirect(url, status)
  status = status or 302
  if not ({ [301] = true, [302] = true, [303] = true, [307] = true, [308] = true })[status] then
    local e = errors.new('ERR_OUT_OF_RANGE', 'Invalid status code ' .. tostring(status))
    e.name = 'RangeError'
    error(e, 2)
  end
  local r = Response.new(nil, { status = 200 })
  r.status, r.ok = status, false
  r.headers:set('location', tostring(url))
  return r
end

--- A copy whose body can be read separately (string bodies only).
function Response:clone()
  if self.bodyUsed then error(type_error('Response.clone: Body has already been consumed.'), 2) end
  local src = rawget(self, '_source')
  if src ~= nil and type(src) ~= 'string' then
    error(errors.new('ERR_NOT_SUPPORTED', 'clone() of a streamed body is not supported'), 2)
  end
  local c = {}
  for k, v in pairs(self) do c[k] = v end
  c.headers = Headers.new(self.headers)
  return setmetatable(c, Response)
end

-- ---- Request ----

---@class Request
local Request = { __name = 'Request' }
Request.__index = index_with(Request)
M.Request = Request

-- Parsed request URLs by their string, as plain fields: a service fetches
-- the same few URLs over and over, and parsing is pure.  What fetch reads
-- of a URL is copied (the URL object's fields are getters); bounded.
local url_cache, url_cached, URL_CACHE_MAX = {}, 0, 256
local URL_FIELDS = { 'href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search' }

local function parse_url(s)
  local u = url_cache[s]
  if u then return true, u end
  local ok, parsed = pcall(require('url').URL, s)
  if not ok then return false, parsed end
  u = {}
  for i = 1, #URL_FIELDS do local k = URL_FIELDS[i]; u[k] = parsed[k] end
  if url_cached >= URL_CACHE_MAX then url_cache, url_cached = {}, 0 end
  url_cache[s], url_cached = u, url_cached + 1
  return true, u
end

M.parse_url = parse_url

local METHODS = { delete = 'DELETE', get = 'GET', head = 'HEAD', options = 'OPTIONS', post = 'POST',
                  put = 'PUT', patch = 'PATCH' }

--- Request(input, init): input is a URL (string or URL) or a Request.
function Request.new(input, init)
  init = init or {}
  local base = {}
  if getmetatable(input) == Request then base = input end
  local url = base.url or tostring(input)
  local ok, parsed = parse_url(url)
  if not ok then
    local e = type_error('Failed to parse URL from ' .. url, 2)
    e.cause = parsed
    error(e, 2)
  end
  if parsed.username ~= '' or parsed.password ~= '' then
    error(type_error('Request cannot be constructed from a URL that includes credentials: ' .. url, 2), 2)
  end
  local method = init.method or base.method or 'GET'
  method = METHODS[method:lower()] or method
  if method == 'CONNECT' or method == 'TRACE' or method == 'TRACK' then
    error(type_error(("'%s' HTTP method is unsupported."):format(method), 2), 2)
  end
  local src, ctype
  if init.body ~= nil then src, ctype = M.body_of(init.body) else src = rawget(base, '_source') end
  if src ~= nil and (method == 'GET' or method == 'HEAD') then
    error(type_error('Request with GET/HEAD method cannot have body.', 2), 2)
  end
  local hinit = init.headers or base.headers
  local headers = hinit == nil and Headers.empty() or Headers.new(hinit)
  if ctype and not headers:has('content-type') then headers:set('content-type', ctype) end
  local self = setmetatable({
    url = parsed.href, method = method, headers = headers,
    redirect = init.redirect or base.redirect or 'follow',
    signal = init.signal or base.signal, bodyUsed = false, _source = src,
    _url = parsed, _init = init,
  }, Request)
  if self.redirect ~= 'follow' and self.redirect ~= 'manual' and self.redirect ~= 'error' then
    error(type_error(("Request constructor: '%s' is not a valid redirect mode"):format(tostring(self.redirect)), 2), 2)
  end
  return self
end
setmetatable(Request, { __call = function(_, ...) return Request.new(...) end })

function Request:clone()
  local src = rawget(self, '_source')
  if src ~= nil and type(src) ~= 'string' then
    error(errors.new('ERR_NOT_SUPPORTED', 'clone() of a streamed body is not supported'), 2)
  end
  return Request.new(self, { headers = Headers.new(self.headers) })
end

return M
