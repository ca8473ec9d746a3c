"""Rewrites a CUDA source for the CPU emulation (cuda_runtime_api.h beside this file):
kernel<<<grid, block, smem, stream>>>(args) -> emuLaunch(kernel, dim3(grid), dim3(block), smem, args),
and dynamic shared memory -> the emulator's buffer. Usage: translate.py IN.cu OUT.cpp"""
import re
import sys


def split_top(s):
    out, depth, cur = [], 0, ''
    for ch in s:
        if ch in '(<':
            depth += 1
        if ch in ')>':
            depth -= 1
        if ch == ',' and depth == 0:
            out.append(cur.strip())
            cur = ''
        else:
            cur += ch
    out.append(cur.strip())
    return out


def launch(m):
    cfg = split_top(m.group(2))
    smem = cfg[2] if len(cfg) > 2 else '0'
    return 'emuLaunch(%s, dim3(%s), dim3(%s), %s, ' % (m.group(1), cfg[0], cfg[1], smem)


src = open(sys.argv[1]).read()
out = re.sub(r'(\w+(?:<[\w:]+>)?)<<<(.*?)>>>\(', launch, src)
out = out.replace('extern __shared__ float ws[];', 'float* ws = emuDynShared.data();')
if '<<<' in out or 'extern __shared__' in out:
    sys.exit('translate.py: %s: a launch or shared declaration was not rewritten' % sys.argv[1])
open(sys.argv[2], 'w').write(out)
