-- Passerelle's HAProxy helpers, loaded with lua-load. Rendered from templates/haproxy/passerelle.lua:
-- do not edit, it is rewritten on every change.

-- Connection tokens that name no header to drop (as in the native proxy): the usual ones, and the
-- headers a client must not be able to remove (Host, the framing, what the proxy sets itself).
local PLAIN = {
  ["keep-alive"] = true, ["close"] = true, ["upgrade"] = true, ["host"] = true,
  ["content-length"] = true, ["transfer-encoding"] = true,
  ["x-forwarded-for"] = true, ["x-forwarded-proto"] = true, ["x-forwarded-host"] = true,
  ["x-forwarded-port"] = true, ["x-real-ip"] = true, ["forwarded"] = true,
}

-- The header names a Connection header lists, lower case, without the protected tokens;
-- and whether it asks for an upgrade.
local function listed(values)
  local names = {}
  local upgrade = false
  if values == nil then return names, upgrade end
  for _, value in pairs(values) do
    for token in string.gmatch(value, "[^,%s]+") do
      local t = string.lower(token)
      if t == "upgrade" then upgrade = true end
      if not PLAIN[t] then names[#names + 1] = t end
    end
  end
  return names, upgrade
end

-- Hop-by-hop headers named in the request's Connection header are not forwarded (RFC 9110 7.6.1),
-- nor are the names themselves; an upgrade request keeps "Connection: upgrade".
core.register_action("pass_hop_req", { "http-req" }, function(txn)
  local names, upgrade = listed(txn.http:req_get_headers()["connection"])
  for _, name in ipairs(names) do txn.http:req_del_header(name) end
  if upgrade then txn.http:req_set_header("connection", "upgrade") else txn.http:req_del_header("connection") end
end, 0)

-- Same for the response: headers the upstream lists in Connection.
core.register_action("pass_hop_res", { "http-res" }, function(txn)
  local names, upgrade = listed(txn.http:res_get_headers()["connection"])
  for _, name in ipairs(names) do txn.http:res_del_header(name) end
  if upgrade then txn.http:res_set_header("connection", "upgrade") else txn.http:res_del_header("connection") end
end, 0)

-- A trusted client's header sent on several lines, joined into one line (the same list, RFC 9110
-- 5.3), so that the proxy's own element can be appended to it: many backends read only one line.
core.register_action("pass_join", { "http-req" }, function(txn, name)
  local values = txn.http:req_get_headers()[name]
  if values == nil then return end
  local list = {}
  local i = 0
  while values[i] ~= nil do
    list[#list + 1] = values[i]
    i = i + 1
  end
  txn.http:req_set_header(name, table.concat(list, ", "))
end, 1)

-- Basic auth users whose hash HAProxy's crypt(3) cannot check ($apr1$): the controller checks
-- them on its auth socket. Accepted credentials are remembered for a minute, keyed by a SHA-256
-- of the socket, the name the users are known by and the Authorization header; refusals are not
-- remembered. `var` is set to true when the credentials are accepted.
local TTL = 60
local MAX = 4096
local accepted = {}
local size = 0

local function check(txn, socket, name, var)
  local authorization = txn.sf:req_fhdr("authorization") or ""
  local key = txn.c:hex(txn.c:sha2(socket .. "\n" .. name .. "\n" .. authorization, 256))
  local now = core.now().sec
  local until_ = accepted[key]
  if until_ ~= nil and until_ > now then
    txn:set_var(var, true)
    return
  end
  local client = core.httpclient()
  local res = client:get({
    url = "http://passerelle/auth/" .. name,
    dst = socket,
    headers = { ["authorization"] = { authorization } },
    timeout = 5000,
  })
  if res ~= nil and res.status == 204 then
    if size >= MAX then
      accepted = {}
      size = 0
    end
    if accepted[key] == nil then size = size + 1 end
    accepted[key] = now + TTL
    txn:set_var(var, true)
  elseif res == nil or res.status ~= 401 then
    core.Warning("passerelle: the controller's auth socket did not answer; the request is refused")
  end
end

-- An entry point's users, by entry point name.
core.register_action("pass_auth", { "http-req" }, function(txn, socket, entrypoint)
  check(txn, socket, entrypoint, "txn.pass_auth_ext")
end, 2)

-- A route's users, by the key of its policy (a digest of the users): a variable of its own, so that
-- an entry point's accepted credentials never pass for a route's.
core.register_action("pass_route_auth", { "http-req" }, function(txn, socket, key)
  check(txn, socket, key, "txn.pass_route_auth")
end, 2)

-- A request body over a route's limit (limits.maxBodyBytes): 413, then what the client still sends
-- is read and dropped (up to 1 MiB), so that it gets the answer rather than a reset while it writes.
local TOO_LARGE = "Request Entity Too Large"
local DRAIN = 1048576

core.register_service("pass_too_large", "http", function(applet)
  applet:set_status(413)
  applet:add_header("content-type", "text/plain; charset=utf-8")
  applet:add_header("content-length", tostring(#TOO_LARGE))
  applet:start_response()
  applet:send(TOO_LARGE)
  local left = DRAIN
  while left > 0 do
    local data = applet:receive(16384)
    if data == nil or #data == 0 then break end
    left = left - #data
  end
end)
