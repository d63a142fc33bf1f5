--- JSON, on lua-cjson (each state has its own cjson instance).
---   json.encode(v) / json.stringify(v)       -> string (raises on functions...)
---   json.decode(s) / json.parse(s)           -> value  (raises ERR_INVALID_JSON)
---   json.decode(s, {safe = true})            -> value | nil, message
---   json.null                                -- JSON null (cjson.null)
local cjson = require('cjson').new()
local errors = require('luster.errors')

cjson.encode_sparse_array(true)      -- {[1]=a, [5]=b} becomes an object, not an error
cjson.encode_max_depth(1000)
cjson.decode_max_depth(1000)

local M = { null = cjson.null }

---@param value any
---@return string
function M.encode(value)
  local ok, s = pcall(cjson.encode, value)
  if ok then return s end
  error(errors.new('ERR_INVALID_ARG_TYPE', 'json.encode: ' .. tostring(s), 2), 2)
end

---@param s string
---@param opts? {safe?: boolean}
---@return any value, string? err
function M.decode(s, opts)
  if type(s) ~= 'string' then
    if opts and opts.safe then return nil, 'json.decode expects a string' end
    errors.check_type(s, 'text', 'string')
  end
  local ok, v = pcall(cjson.decode, s)
  if ok then return v end
  local msg = tostring(v):gsub('^Expected', 'Unexpected token: expected')
  if opts and opts.safe then return nil, msg end
  error(errors.new('ERR_INVALID_JSON', msg, 2), 2)
end

M.stringify = M.encode
M.parse = M.decode
return M
