--- Express's request and response helpers, added to http's
--- IncomingMessage and ServerResponse when the router is loaded:
---   res:status(code)  res:send(body)  res:sendStatus(code)  res:set(name, v)
---   res:get(name)  res:type(t)  res:append(name, v)  res:location(url)
---   res:redirect([status,] url)  res:sendFile(path[, opts])
---   req:get(name) (= req:header)  req:is(type)
--- (res:json is http's own.)  Chainable ones return res.
local http = require('http')
local errors = require('luster.errors')
local mime = require('luster.router_mime')
local body = require('luster.router_body')

local Res, Req = http.ServerResponse, http.IncomingMessage
local type, tostring, lower, fmt = type, tostring, string.lower, string.format

--- `res:status(code)` — set the status code; chainable.
---@param code integer
---@return ServerResponse
function Res:status(code)
  self.statusCode = code
  return self
end

--- `res:send(body)` — finish with a string (text/html unless a type was
--- set), a table or boolean (as JSON), a number (as a status code with its
--- name) or nothing (an empty body).
---@param data? string|table|number|boolean
---@return ServerResponse
function Res:send(data)
  local t = type(data)
  if t == 'table' or t == 'boolean' then return self:json(data) end
  if t == 'number' then
    self.statusCode = data
    data = http.STATUS_CODES[data] or tostring(data)
  elseif t ~= 'string' and t ~= 'nil' then
    errors.throw('ERR_INVALID_ARG_TYPE', 'res:send() takes a string, table, number or boolean. Received %s', t)
  end
  if data and not self.headersSent and not self:getHeader('content-type') then
    self:setHeader('Content-Type', 'text/html; charset=utf-8')
  end
  return self:finish(data)
end

--- `res:sendStatus(code)` — finish with the status and its name as text.
---@param code integer
---@return ServerResponse
function Res:sendStatus(code)
  self.statusCode = code
  self:setHeader('Content-Type', 'text/plain; charset=utf-8')
  return self:finish(http.STATUS_CODES[code] or tostring(code))
end

-- A type name as Express takes it: 'json', '.png', 'html' or a full type.
local function content_type(t)
  if t:find('/', 1, true) then return t end
  return mime.lookup(t) or mime.default
end

--- `res:set(name, value)` or `res:set{name = value, ...}` — setHeader,
--- chainable; a Content-Type may be given as 'json', 'html', ...
---@return ServerResponse
function Res:set(name, value)
  if type(name) == 'table' then
    for k, v in pairs(name) do self:set(k, v) end
    return self
  end
  if type(value) == 'string' and lower(name) == 'content-type' then value = content_type(value) end
  self:setHeader(name, value)
  return self
end
Res.header = Res.set

--- `res:get(name)` — the response header set so far.
function Res:get(name) return self:getHeader(name) end

--- `res:type(t)` — the Content-Type ('json', '.png' or a full type), chainable.
---@param t string
---@return ServerResponse
function Res:type(t)
  errors.check_type(t, 'type', 'string')
  self:setHeader('Content-Type', content_type(t))
  return self
end
Res.contentType = Res.type

--- `res:append(name, value)` — add to a header (Set-Cookie, Link...), chainable.
---@return ServerResponse
function Res:append(name, value)
  local old = self:getHeader(name)
  if old == nil then return self:set(name, value) end
  local list = type(old) == 'table' and { unpack(old) } or { old }
  if type(value) == 'table' then
    for _, v in ipairs(value) do list[#list + 1] = v end
  else
    list[#list + 1] = value
  end
  self:setHeader(name, list)
  return self
end

-- encodeurl: percent-encode what may not appear in a URL, leaving
-- existing %XX escapes (and every reserved character) as they are.
local function encode_url(url)
  return (url:gsub("[^%w%-%._~:/%?#%[%]@!%$&'%(%)%*%+,;=%%]", function(c)
    return fmt('%%%02X', c:byte())
  end):gsub('%%(%x?%x?)', function(h)
    if #h == 2 then return '%' .. h end
    return '%25' .. h
  end))
end

--- `res:location(url)` — set Location ('back' is the Referer, or '/').
---@param url string
---@return ServerResponse
function Res:location(url)
  errors.check_type(url, 'url', 'string')
  if url == 'back' then url = self.req and self.req.headers.referer or '/' end
  self:setHeader('Location', encode_url(url))
  return self
end

--- `res:redirect([status,] url)` — 302 (or status) to url, with a short
--- text body naming it.
---@return ServerResponse
function Res:redirect(status, url)
  if url == nil then status, url = 302, status end
  if type(status) ~= 'number' then status, url = url, status end -- redirect(url, status), Express 4
  errors.check_type(url, 'url', 'string')
  self:location(url)
  local where = self:getHeader('location')
  self.statusCode = status
  self:setHeader('Content-Type', 'text/plain; charset=utf-8')
  return self:finish((http.STATUS_CODES[status] or 'Redirect') .. '. Redirecting to ' .. where)
end

--- `res:sendFile(path[, opts])` — send a file (absolute, or relative to
--- opts.root) as router.static does; raises with status 404 when missing.
---@param path string
---@param opts? {root?: string, maxAge?: number|string, etag?: boolean, lastModified?: boolean, dotfiles?: string}
function Res:sendFile(path, opts)
  return require('luster.router_static').send_path(self.req, self, path, opts)
end

--- `req:get(name)` (also `req:header(name)`) — a request header by any
--- case; 'referer' and 'referrer' are the same.
---@param name string
---@return string|string[]|nil
function Req:get(name)
  errors.check_type(name, 'name', 'string')
  local k = lower(name)
  if k == 'referer' or k == 'referrer' then
    local h = self.headers
    return h.referer or h.referrer
  end
  return self.headers[k]
end
Req.header = Req.get

--- `req:is(type...)` — the first of the types ('json', 'text/*',
--- 'application/json', '+json') the request's Content-Type matches, or
--- false; nil when the request has no body.
---@return string|false|nil
function Req:is(...)
  local ctype = self.headers['content-type']
  if not ctype then return nil end
  for i = 1, select('#', ...) do
    local t = select(i, ...)
    if body.type_matches(ctype, t) then return t end
  end
  return false
end

return {}
