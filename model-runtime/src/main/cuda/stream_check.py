#!/usr/bin/env python3
# Host emulation of matmul_stream's index math (stream.cu), no GPU needed: the swizzled cp.async activation ring,
# each lane's 16-byte weight pieces, the m16n8k16 A/B/C fragment layouts of the PTX ISA, the split-K partial
# sums [split, npad, rows] or the direct y store, and SkinnyScratch.streamChunk's splits. Runs the block code
# sequentially (it checks the arithmetic, not the barriers) and compares with x . W^T in float64.
#   python3 model-runtime/src/main/cuda/stream_check.py     (numpy; a few seconds)
import numpy as np
KC=64; D=4; S=D+1; WARPS=8
def mma(acc, a, b):
    # a: list of 4 regs, each pair of floats; per lane. b: 2 regs. Emulate whole-warp mma.
    A=np.zeros((16,16)); B=np.zeros((16,8))
    for lane in range(32):
        g,q=lane>>2,lane&3
        a0,a1,a2,a3=a[lane]; b0,b1=b[lane]
        A[g,2*q:2*q+2]=a0; A[g+8,2*q:2*q+2]=a1; A[g,2*q+8:2*q+10]=a2; A[g+8,2*q+8:2*q+10]=a3
        B[2*q:2*q+2,g]=b0; B[2*q+8:2*q+10,g]=b1
    C=A@B
    for lane in range(32):
        g,q=lane>>2,lane&3
        acc[lane]+=np.array([C[g,2*q],C[g,2*q+1],C[g+8,2*q],C[g+8,2*q+1]])
def block(W, XH, out, tiles8, nOut, rows, cols, kChunk, blockRow, split):
    ROWS=WARPS*16
    k0=split*kChunk
    if k0>=cols: return
    k1=min(cols,k0+kChunk); chunks=(k1-k0+KC-1)//KC; npad=tiles8*8
    xs=np.full((S,64*KC),np.nan)
    Wf=W.reshape(-1); Xf=XH.reshape(-1)
    def loadx(st,k):
        for i in range(npad*8):
            t=i>>3;p=i&7;c=k+8*p
            dst=t*KC+((p^((t&1)<<2))<<3)
            xs[st,dst:dst+8]=Xf[t*cols+c:t*cols+c+8] if c<k1 else 0
    def piece(r,inb,k):
        if inb and k<k1: return Wf[r*cols+k:r*cols+k+8]
        return np.zeros(8)
    # per-warp state
    wr={}; acc={}
    for warp in range(WARPS):
        for lane in range(32): acc[(warp,lane)]=np.zeros((8,4))
    def loadw(c):
        k=k0+c*KC
        res={}
        for warp in range(WARPS):
            for lane in range(32):
                g,q=lane>>2,lane&3; r0=blockRow*ROWS+warp*16+g
                in0=r0<rows; in1=r0+8<rows
                lo=k+8*q; hi=lo+32
                res[(warp,lane)]=[piece(r0,in0,lo),piece(r0,in0,hi),piece(r0+8,in1,lo),piece(r0+8,in1,hi)]
        return res
    for d in range(D):
        if d<chunks: wr[d]=loadw(d); loadx(d,k0+d*KC)
    for c in range(chunks):
        d=c%D; nxt=c+D
        if nxt<chunks: loadx(nxt%S,k0+nxt*KC)
        xc=xs[c%S]
        for warp in range(WARPS):
            for t in range(8):
                if t>=tiles8: continue
                a=[[],[],[],[]]; b=[[],[],[],[]]
                for lane in range(32):
                    g,q=lane>>2,lane&3
                    bLo=g*KC+(((0^(g&1))*4+q)*8); bHi=g*KC+(((1^(g&1))*4+q)*8)
                    lo=xc[t*8*KC+bLo:t*8*KC+bLo+8]; hi=xc[t*8*KC+bHi:t*8*KC+bHi+8]
                    w=wr[d][(warp,lane)]
                    P=lambda v,i:v[2*i:2*i+2]
                    a[0].append((P(w[0],0),P(w[2],0),P(w[0],1),P(w[2],1))); b[0].append((P(lo,0),P(lo,1)))
                    a[1].append((P(w[0],2),P(w[2],2),P(w[0],3),P(w[2],3))); b[1].append((P(lo,2),P(lo,3)))
                    a[2].append((P(w[1],0),P(w[3],0),P(w[1],1),P(w[3],1))); b[2].append((P(hi,0),P(hi,1)))
                    a[3].append((P(w[1],2),P(w[3],2),P(w[1],3),P(w[3],3))); b[3].append((P(hi,2),P(hi,3)))
                for s in range(4):
                    tmp=[np.zeros(4) for _ in range(32)]
                    mma(tmp,a[s],b[s])
                    for lane in range(32): acc[(warp,lane)][t]+=tmp[lane]
        if nxt<chunks: wr[d]=loadw(nxt)
    base=split*nOut*rows
    for warp in range(WARPS):
        for lane in range(32):
            g,q=lane>>2,lane&3; r0=blockRow*ROWS+warp*16+g
            for t in range(tiles8):
                for j in range(2):
                    tok=8*t+2*q+j
                    if tok<nOut:
                        if r0<rows: out[base+tok*rows+r0]=acc[(warp,lane)][t][j]
                        if r0+8<rows: out[base+tok*rows+r0+8]=acc[(warp,lane)][t][2+j]
def streamChunk(rows,cols):
    rb=(rows+WARPS*16-1)//(WARPS*16); sp=(2048//WARPS+rb-1)//rb; sp=max(1,min(sp,cols//256)); ch=(cols+sp-1)//sp; return (ch+63)//64*64
def run(rows,cols,n,rng):
    W=rng.standard_normal((rows,cols)); X=rng.standard_normal((n,cols))
    tiles8=(n+7)//8; npad=tiles8*8
    XH=np.zeros((npad,cols)); XH[:n]=X
    ch=streamChunk(rows,cols); sp=(cols+ch-1)//ch
    rb=(rows+WARPS*16-1)//(WARPS*16)
    if sp==1:
        y=np.full(n*rows,np.nan)
        for bx in range(rb): block(W,XH,y,tiles8,n,rows,cols,ch,bx,0)
    else:
        part=np.full(sp*npad*rows,np.nan)
        for bx in range(rb):
            for s in range(sp): block(W,XH,part,tiles8,npad,rows,cols,ch,bx,s)
        y=np.zeros(n*rows)
        for i in range(n*rows):
            t,r=divmod(i,rows); y[i]=sum(part[(s*npad+t)*rows+r] for s in range(sp))
    ref=(X@W.T).reshape(-1)
    err=np.abs(y-ref).max()
    print(rows,cols,n,"splits",sp,"chunk",ch,"maxerr",err)
    assert err<1e-9
rng=np.random.default_rng(3)
for WARPS in (8, 16):
  print("blocks of", WARPS, "warps")
  run(17,8,5,rng)
  run(100,200,1,rng)
  run(33,520,16,rng)
  run(300,1032,5,rng)
  run(130,264,13,rng)
  run(40,1544,9,rng)
# ring wrap: one block, 1000 columns in one split (16 chunks, last partial)
W=rng.standard_normal((20,1000)); X=rng.standard_normal((11,1000)); XH=np.zeros((16,1000)); XH[:11]=X
y=np.full(11*20,np.nan); block(W,XH,y,2,11,20,1000,1024,0,0)
print("wrap maxerr",np.abs(y-(X@W.T).reshape(-1)).max())
