"""check_lint.py ROOT: finds `check DESC CMD && MORE` in the shell tests.

check() (tests/support/lib.sh) runs only CMD and always returns 0, so
whatever follows a top-level && (or ||) is not counted: a part of the test
that cannot fail.  Such checks go through a function instead.  Prints each
one as FILE:LINE and exits 1 when there is any."""
import sys, re, glob, os
def toplevel(s, op):
    i=0; depth=0; q=None
    while i < len(s):
        c=s[i]
        if q=="'":
            if c=="'": q=None
            i+=1; continue
        if q=='"':
            if c=='\\': i+=2; continue
            if c=='"' and depth==0: q=None; i+=1; continue
        if c=="'" and q is None: q="'"; i+=1; continue
        if c=='"' and q is None: q='"'; i+=1; continue
        if s.startswith('$(',i): depth+=1; i+=2; continue
        if c==')' and depth: depth-=1
        if depth==0 and q is None and s.startswith(op,i): return True
        i+=1
    return False
hits=0
root = sys.argv[1] if len(sys.argv) > 1 else '.'
for f in sorted(glob.glob(os.path.join(root, 'tests/integration/*.sh')) + glob.glob(os.path.join(root, 'tests/support/*.sh'))):
    lines=open(f).read().split('\n')
    i=0
    while i<len(lines):
        l=lines[i]
        if re.match(r'\s*check ',l):
            j=i; s=l
            while re.search(r'(\\|&&|\|\||\|)\s*$', lines[j]) and j+1<len(lines):
                j+=1; s+='\n'+lines[j]
            if toplevel(s,'&&'):
                hits+=1; print(f"{f}:{i+1}: {l.strip()[:100]}")
            i=j+1
        else: i+=1
print(hits, 'checks with a part that is not counted')
sys.exit(1 if hits else 0)
