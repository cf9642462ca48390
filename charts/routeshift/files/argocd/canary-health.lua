-- Argo CD resource health check for routeshift.dev/Canary (resource.customizations.health.routeshift.dev_Canary).
-- Argo CD runs it with the live object as `obj` and reads `hs.status` / `hs.message`.
-- It reads the kstatus conditions the controller writes (docs/gitops-health.md), exactly one of them True:
-- Healthy: Ready=True (nothing to roll out, the release was promoted, or a workload reverted to what runs).
-- Degraded: Stalled=True (the spec or its objects cannot be acted on, or the release was rolled back).
-- Suspended: Reconciling=True because a person or a confirm-promotion webhook must act (Paused, WaitingPromotion).
-- Progressing: Reconciling=True otherwise, or the controller has not written a status for this generation yet.
hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function says(c)
  return (c.reason or "") .. ": " .. (c.message or "")
end

local status = obj.status
local generation = obj.metadata.generation
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Routeshift controller"
  return hs
end
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. generation
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = says(stalled)
  return hs
end
local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = says(ready)
  return hs
end
local reconciling = condition(status, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  if reconciling.reason == "Paused" or reconciling.reason == "WaitingPromotion" then
    hs.status = "Suspended"
  else
    hs.status = "Progressing"
  end
  hs.message = says(reconciling)
  return hs
end
-- None True: the controller's last write before the finalizer lets a deleted Canary go (Terminated).
hs.status = "Progressing"
hs.message = status.phase .. ": " .. (status.message or "")
return hs
