// The Lua scripts of the Redis store (docs/redis.md states their contract). Each touches only
// keys of one session (one hash tag, so one Cluster slot) and checks everything it can before
// its first write, so an error never leaves a request half-done.
#pragma once

namespace strata::session::redis::scripts {

// Shared by the scripts: decimal-string arithmetic for producer epochs and sequences (64-bit
// values that Lua's doubles cannot hold exactly) and the size of an event as Event::byte_size
// counts it.
#define STRATA_REDIS_LUA_COMMON                                                      \
  "local function dlt(a, b)\n"                                                       \
  "  if #a ~= #b then return #a < #b end\n"                                          \
  "  return a < b\n"                                                                 \
  "end\n"                                                                            \
  "local function dinc(a)\n"                                                         \
  "  local out, carry = {}, 1\n"                                                     \
  "  for i = #a, 1, -1 do\n"                                                         \
  "    local d = string.byte(a, i) - 48 + carry\n"                                   \
  "    if d == 10 then d = 0; carry = 1 else carry = 0 end\n"                        \
  "    out[i] = string.char(48 + d)\n"                                               \
  "  end\n"                                                                          \
  "  local s = table.concat(out)\n"                                                  \
  "  if carry == 1 then s = '1' .. s end\n"                                          \
  "  return s\n"                                                                     \
  "end\n"                                                                            \
  "local function fmt(n) return string.format('%d', n) end\n"                        \
  "local function entry_size(fields)\n"                                              \
  "  local n = 48\n"                                                                 \
  "  for j = 1, #fields, 2 do\n"                                                     \
  "    local f = fields[j]\n"                                                        \
  "    if f == 't' or f == 'p' or f == 'd' or f == 'r' or f == 'pr' or f == 'm' then\n" \
  "      n = n + #fields[j + 1]\n"                                                   \
  "    end\n"                                                                        \
  "  end\n"                                                                          \
  "  return n\n"                                                                     \
  "end\n"                                                                            \
  "local function field(fields, name)\n"                                             \
  "  for j = 1, #fields, 2 do if fields[j] == name then return fields[j + 1] end end\n" \
  "  return nil\n"                                                                   \
  "end\n"                                                                            \
  "local function offset_of(id) return tonumber(string.match(id, '^(%d+)%-0$')) end\n" \
  "local function dataloss(what) error({err = 'STRATA_DATALOSS ' .. what}) end\n"   \
  "local function check_meta(meta)\n"                                                \
  "  local m = redis.call('HMGET', meta, 'format', 'head', 'trimmed')\n"             \
  "  if not m[1] then return nil end\n"                                              \
  "  local head, trimmed = tonumber(m[2]), tonumber(m[3])\n"                         \
  "  if m[1] ~= '1' or not head or not trimmed then dataloss('foreign session metadata') end\n" \
  "  return head, trimmed\n"                                                         \
  "end\n"

// KEYS: meta, log, producers. ARGV: epoch for a new session, created_ms, retention for a new
// session, number of requests, then per request: producer, producer epoch, sequence ('' for
// none), event count, and per event: type, run id, parent run id, message id, payload,
// timestamp. Creates the session if needed (zero requests: create only).
// Returns {epoch, created, then per request code, a, b}: code 0 written (a..b offsets),
// 1 duplicate (a..b its offsets), 2 rejected (a: the producer state for the message),
// 3 duplicate whose events retention removed, 4 damaged producer state.
inline constexpr const char* kAppend = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
local meta, log, producers = KEYS[1], KEYS[2], KEYS[3]
local m = redis.call('HMGET', meta, 'format', 'epoch', 'head')
local epoch, head, created = m[2], tonumber(m[3]), 0
if not m[1] then
  if redis.call('EXISTS', meta, log, producers) ~= 0 then
    dataloss('session keys exist without strata metadata')
  end
  epoch, head, created = ARGV[1], 0, 1
  redis.call('HSET', meta, 'format', '1', 'epoch', epoch, 'head', '0', 'trimmed', '0',
             'count', '0', 'bytes', '0', 'created', ARGV[2], 'retention', ARGV[3])
else
  if m[1] ~= '1' or not epoch or not head then dataloss('foreign session metadata') end
  local top = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
  if top[1] then
    local off = offset_of(top[1][1])
    if not off or off > head then dataloss('the log runs past the recorded head') end
  end
end
local out = {epoch, created}
local i = 5
local added, added_bytes = 0, 0
for r = 1, tonumber(ARGV[4]) do
  local producer, pepoch, seq, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  i = i + 4
  local st = redis.call('HGET', producers, producer)
  local se, sseq, sfirst, slast
  local verdict = 'write'
  if st then
    se, sseq, sfirst, slast = string.match(st, '^(%d+),(%d*),(%d+),(%d+)$')
    if not se then verdict = 'damaged' end
  end
  if verdict == 'damaged' then
  elseif se and dlt(pepoch, se) then verdict = 'reject'
  elseif seq ~= '' then
    if (not se) or dlt(se, pepoch) or sseq == '' then
      if seq ~= '0' then verdict = 'reject' end
    elseif seq == dinc(sseq) then verdict = 'write'
    elseif seq == sseq then verdict = 'last'
    elseif dlt(seq, sseq) then verdict = 'older'
    else verdict = 'reject' end
  end
  if verdict == 'write' then
    local first = head + 1
    for k = 1, n do
      local t, rid, prid, mid, d, ts = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
      i = i + 6
      head = head + 1
      local args = {'XADD', log, fmt(head) .. '-0', 't', t, 'p', producer, 'd', d, 'ts', ts, 'e', pepoch}
      if seq ~= '' then args[#args + 1] = 'q'; args[#args + 1] = seq end
      if rid ~= '' then args[#args + 1] = 'r'; args[#args + 1] = rid end
      if prid ~= '' then args[#args + 1] = 'pr'; args[#args + 1] = prid end
      if mid ~= '' then args[#args + 1] = 'm'; args[#args + 1] = mid end
      redis.call(unpack(args))
      added = added + 1
      added_bytes = added_bytes + 48 + #t + #producer + #rid + #prid + #mid + #d
    end
    local nseq, nfirst, nlast = sseq or '', sfirst or '0', slast or '0'
    if (not se) or dlt(se, pepoch) then nseq = '' end
    if seq ~= '' then nseq, nfirst, nlast = seq, fmt(first), fmt(head) end
    redis.call('HSET', producers, producer, pepoch .. ',' .. nseq .. ',' .. nfirst .. ',' .. nlast)
    out[#out + 1] = 0; out[#out + 1] = first; out[#out + 1] = head
  else
    i = i + 6 * n
    if verdict == 'reject' then
      out[#out + 1] = 2; out[#out + 1] = st or ''; out[#out + 1] = 0
    elseif verdict == 'damaged' then
      out[#out + 1] = 4; out[#out + 1] = st; out[#out + 1] = 0
    elseif verdict == 'last' then
      out[#out + 1] = 1; out[#out + 1] = tonumber(sfirst); out[#out + 1] = tonumber(slast)
    else
      -- An older sequence: its events lie before the last append's; walk back to them.
      local f, l
      local cursor = '(' .. sfirst .. '-0'
      while true do
        local page = redis.call('XREVRANGE', log, cursor, '-', 'COUNT', 256)
        local stop = false
        for _, entry in ipairs(page) do
          local fields = entry[2]
          local ep, eq = field(fields, 'e'), field(fields, 'q')
          if field(fields, 'p') == producer and ep and eq then
            if ep == pepoch and eq == seq then
              local off = offset_of(entry[1])
              if off then
                l = l or off
                f = off
              end
            elseif dlt(ep, pepoch) or (ep == pepoch and dlt(eq, seq)) then
              stop = true
              break
            end
          end
        end
        if stop or #page < 256 then break end
        cursor = '(' .. page[#page][1]
      end
      if f then
        out[#out + 1] = 1; out[#out + 1] = f; out[#out + 1] = l
      else
        out[#out + 1] = 3; out[#out + 1] = 0; out[#out + 1] = 0
      end
    end
  end
end
if added > 0 then
  redis.call('HSET', meta, 'head', fmt(head))
  redis.call('HINCRBY', meta, 'count', added)
  redis.call('HINCRBY', meta, 'bytes', added_bytes)
end
return out
)lua";

// KEYS: meta, log. ARGV: after, max events. Returns -1 if the session does not exist, else
// {head, trimmed_through, entries (XRANGE)}.
inline constexpr const char* kRead = "#!lua flags=no-writes\n" STRATA_REDIS_LUA_COMMON R"lua(
local head, trimmed = check_meta(KEYS[1])
if not head then return -1 end
local entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', tonumber(ARGV[2]))
return {head, trimmed, entries}
)lua";

// KEYS: meta, log. ARGV: through, at most this many events per call. Removes the oldest
// events up to offset `through` (clamped to the head). Returns -1 if the session does not
// exist, else {removed, done}; when not done, call again.
inline constexpr const char* kTrim = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
local meta, log = KEYS[1], KEYS[2]
local head, trimmed = check_meta(meta)
if not head then return -1 end
local through = tonumber(ARGV[1])
if through > head then through = head end
local limit = tonumber(ARGV[2])
local page = redis.call('XRANGE', log, '-', fmt(through) .. '-0', 'COUNT', limit)
local bytes, last = 0, 0
for _, entry in ipairs(page) do
  bytes = bytes + entry_size(entry[2])
  local off = offset_of(entry[1])
  if not off then dataloss('stream entry id ' .. entry[1]) end
  last = off
end
if #page > 0 then
  redis.call('XTRIM', log, 'MINID', fmt(last + 1) .. '-0')
  redis.call('HINCRBY', meta, 'count', -#page)
  redis.call('HINCRBY', meta, 'bytes', -bytes)
end
local done = #page < limit
local reached = through
if not done then reached = last end
if reached > trimmed then redis.call('HSET', meta, 'trimmed', fmt(reached)) end
if done then return {#page, 1} end
return {#page, 0}
)lua";

// KEYS: meta, log. ARGV: span count, then per span: message id, first, last. Removes the
// message.delta events of each message within its span. Returns -1 if the session does not
// exist, else how many events were removed.
inline constexpr const char* kCompact = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
local meta, log = KEYS[1], KEYS[2]
if not check_meta(meta) then return -1 end
local removed, bytes = 0, 0
local i = 2
for s = 1, tonumber(ARGV[1]) do
  local mid, first, last = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local cursor = first .. '-0'
  while true do
    local page = redis.call('XRANGE', log, cursor, last .. '-0', 'COUNT', 512)
    local doomed = {}
    for _, entry in ipairs(page) do
      local fields = entry[2]
      if field(fields, 't') == 'message.delta' and field(fields, 'm') == mid then
        doomed[#doomed + 1] = entry[1]
        bytes = bytes + entry_size(fields)
      end
    end
    if #doomed > 0 then
      removed = removed + redis.call('XDEL', log, unpack(doomed))
    end
    if #page < 512 then break end
    cursor = '(' .. page[#page][1]
  end
end
if removed > 0 then
  redis.call('HINCRBY', meta, 'count', -removed)
  redis.call('HINCRBY', meta, 'bytes', -bytes)
end
return removed
)lua";

// KEYS: meta, log, producers, kinds. ARGV: the prefix of the leased keys (same hash tag).
// Deletes the session. Returns 1 if it existed, else 0.
inline constexpr const char* kRemove = "#!lua\n" R"lua(
local existed = redis.call('EXISTS', KEYS[1])
for _, kind in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('DEL', ARGV[1] .. kind)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return existed
)lua";

// KEYS: meta. ARGV: the encoded retention. Returns 0 if the session does not exist, else 1.
inline constexpr const char* kSetRetention = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
if not check_meta(KEYS[1]) then return 0 end
redis.call('HSET', KEYS[1], 'retention', ARGV[1])
return 1
)lua";

// KEYS: meta, leased (of the kind), kinds. ARGV: operation ('put', 'remove', 'list'), kind,
// key, value. Returns -1 if the session does not exist; put: 1; remove: 1 if it was there,
// else 0; list: the HGETALL of the kind.
inline constexpr const char* kLeased = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
if not check_meta(KEYS[1]) then return -1 end
local op = ARGV[1]
if op == 'put' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  redis.call('SADD', KEYS[3], ARGV[2])
  return 1
elseif op == 'remove' then
  return redis.call('HDEL', KEYS[2], ARGV[3])
end
return redis.call('HGETALL', KEYS[2])
)lua";

#undef STRATA_REDIS_LUA_COMMON

}  // namespace strata::session::redis::scripts
