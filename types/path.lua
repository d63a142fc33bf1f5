---@meta path
-- LuaCATS definitions for luster's `path` (Node's path, POSIX flavour).

---@class path.ParsedPath
---@field root string
---@field dir string
---@field base string
---@field ext string
---@field name string

---@class path
local path = {}

---@type string '/'
path.sep = '/'
---@type string ':'
path.delimiter = ':'
---This module again (Node's `path.posix`).
---@type path
path.posix = path

---@param ... string
---@return string
function path.join(...) end

---An absolute path from the segments, right to left, then the cwd.
---@param ... string
---@return string
function path.resolve(...) end

---@param p string
---@return string
function path.normalize(p) end

---@param p string
---@return string
function path.dirname(p) end

---@param p string
---@param ext? string a suffix to strip
---@return string
function path.basename(p, ext) end

---@param p string
---@return string
function path.extname(p) end

---@param from string
---@param to string
---@return string
function path.relative(from, to) end

---@param p string
---@return boolean
function path.isAbsolute(p) end

---@param p string
---@return path.ParsedPath
function path.parse(p) end

---@param parts path.ParsedPath
---@return string
function path.format(parts) end

return path
