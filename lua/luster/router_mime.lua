--- Content types by file extension, for router.static and res:type.
--- The common web types only: a type not listed is served as
--- application/octet-stream (a system mime.types file is not on every
--- machine, and the answer must not change with what is installed).
local M = {}

local TEXT = '; charset=utf-8'
M.types = {
  html = 'text/html' .. TEXT, htm = 'text/html' .. TEXT, css = 'text/css' .. TEXT,
  js = 'text/javascript' .. TEXT, mjs = 'text/javascript' .. TEXT, json = 'application/json',
  map = 'application/json', txt = 'text/plain' .. TEXT, text = 'text/plain' .. TEXT,
  md = 'text/markdown' .. TEXT, csv = 'text/csv' .. TEXT, xml = 'application/xml',
  lua = 'text/x-lua' .. TEXT,
  svg = 'image/svg+xml', png = 'image/png', jpg = 'image/jpeg', jpeg = 'image/jpeg',
  gif = 'image/gif', webp = 'image/webp', avif = 'image/avif', ico = 'image/x-icon',
  bmp = 'image/bmp', wasm = 'application/wasm', pdf = 'application/pdf',
  zip = 'application/zip', gz = 'application/gzip', tar = 'application/x-tar',
  mp4 = 'video/mp4', webm = 'video/webm', ogg = 'audio/ogg', mp3 = 'audio/mpeg',
  wav = 'audio/wav', woff = 'font/woff', woff2 = 'font/woff2', ttf = 'font/ttf',
  otf = 'font/otf', bin = 'application/octet-stream',
  form = 'application/x-www-form-urlencoded', urlencoded = 'application/x-www-form-urlencoded',
}

M.default = 'application/octet-stream'

--- The content type for a file name or a bare extension ('png', '.png'),
--- or nil when unknown.
---@param name string
---@return string|nil
function M.lookup(name)
  local ext = name:match('%.([^./]+)$') or name
  return M.types[ext:lower()]
end

return M
