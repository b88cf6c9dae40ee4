# Configures Claude Code on Windows to use Sluice at __GATEWAY_URL__ with a virtual key.
# Usage (PowerShell 5.1 or 7):  $env:SLUICE_API_KEY = "sk-sluice-..."; irm __SLUICE_URL__/auth/setup.ps1 | iex
# Ask your administrator for a key, or create one on the portal's "me" page (__SLUICE_URL__/#/me).
& {
  $ErrorActionPreference = 'Stop'
  $gateway = '__GATEWAY_URL__'
  $key = $env:SLUICE_API_KEY
  if (-not $key) {
    Write-Host 'Set SLUICE_API_KEY to your Sluice virtual key, then run this again:' -ForegroundColor Yellow
    Write-Host '  $env:SLUICE_API_KEY = "sk-sluice-..."; irm __SLUICE_URL__/auth/setup.ps1 | iex'
    return
  }
  if ($key -notmatch '^sk-sluice-[A-Za-z0-9]+$') {
    Write-Host 'SLUICE_API_KEY does not look like a Sluice key (sk-sluice-...).' -ForegroundColor Red
    return
  }
  $dir = __SETTINGS_DIR_PS__
  New-Item -ItemType Directory -Force -Path $dir | Out-Null
  $path = Join-Path $dir 'settings.json'
  if (Test-Path $path) {
    $settings = Get-Content -Raw -Path $path | ConvertFrom-Json
  }
  if (-not $settings) { $settings = [pscustomobject]@{} }
  if (-not ($settings.PSObject.Properties.Name -contains 'env')) {
    $settings | Add-Member -NotePropertyName env -NotePropertyValue ([pscustomobject]@{})
  }
  # Settings that would send Claude Code somewhere else, or ask a helper instead of using the key.
  foreach ($name in 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_USE_BEDROCK', 'ANTHROPIC_BEDROCK_BASE_URL', 'CLAUDE_CODE_SKIP_BEDROCK_AUTH') {
    $settings.env.PSObject.Properties.Remove($name)
  }
  $settings.PSObject.Properties.Remove('apiKeyHelper')
  $settings.env | Add-Member -Force -NotePropertyName ANTHROPIC_BASE_URL -NotePropertyValue $gateway
  $settings.env | Add-Member -Force -NotePropertyName ANTHROPIC_API_KEY -NotePropertyValue $key
  # The gateway's policy for you: tools Claude Code should not offer, models it may pick (Sluice enforces both
  # either way). Skipped when Sluice cannot say.
  try {
    $policy = Invoke-RestMethod -Headers @{ 'x-api-key' = $key } -Uri '__SLUICE_URL__/auth/claude-settings'
  } catch { $policy = $null }
  if ($policy -and $policy.permissions -and $policy.permissions.deny) {
    if (-not ($settings.PSObject.Properties.Name -contains 'permissions')) {
      $settings | Add-Member -NotePropertyName permissions -NotePropertyValue ([pscustomobject]@{})
    }
    $deny = @()
    if ($settings.permissions.PSObject.Properties.Name -contains 'deny') { $deny = @($settings.permissions.deny) }
    foreach ($d in $policy.permissions.deny) { if ($deny -notcontains $d) { $deny += $d } }
    $settings.permissions | Add-Member -Force -NotePropertyName deny -NotePropertyValue $deny
  }
  if ($policy -and ($policy.PSObject.Properties.Name -contains 'availableModels')) {
    $settings | Add-Member -Force -NotePropertyName availableModels -NotePropertyValue @($policy.availableModels)
  }
  # UTF-8 without a byte-order mark: Claude Code reads the file as plain JSON.
  $tmp = "$path.tmp"
  [System.IO.File]::WriteAllText($tmp, ($settings | ConvertTo-Json -Depth 32), (New-Object System.Text.UTF8Encoding $false))
  Move-Item -Force -Path $tmp -Destination $path
  Write-Host "Claude Code now uses Sluice at $gateway with your key ($path)."
}
