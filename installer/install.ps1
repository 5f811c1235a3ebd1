# obs-faceswap installer for Windows: powershell -ExecutionPolicy Bypass -File installer\install.ps1 [options]
# Finds a Python 3.10+ (the py launcher first) and runs installer\install.py with it.
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$script = Join-Path $here "install.py"
$candidates = @(@("py", "-3.12"), @("py", "-3.11"), @("py", "-3.10"), @("py", "-3"), @("python"), @("python3"))
foreach ($candidate in $candidates) {
    $exe = $candidate[0]
    $pre = @($candidate | Select-Object -Skip 1)
    if (-not (Get-Command $exe -ErrorAction SilentlyContinue)) { continue }
    & $exe @pre -c "import sys; sys.exit(sys.version_info < (3, 10))" 2>$null
    if ($LASTEXITCODE -eq 0) {
        & $exe @pre $script @args
        exit $LASTEXITCODE
    }
}
Write-Error "install: no Python 3.10 or newer found; install Python 3.12 from https://www.python.org/downloads/windows/ (tick 'Add python.exe to PATH') and run this again."
exit 1
