/**
 * The discrete-event simulator of one device running many inference tasks at once (Decima-style).
 *
 * Time is env time in ms; nothing reads the wall clock, so a run is a pure function of its inputs.
 * The timeline is an EventHeap keyed by (time, push counter). Events: an op finishing on a stream,
 * a stage barrier (stream sync) ending, a host copy or a pre-processing job ending, a context
 * switch ending. Starting an op is done inline when its stream and its inputs are ready.
 *
 * Execution model: a task runs its compiled plan (plan.ts) phase by phase; each phase's groups
 * become ready together and each takes a free stream, running its chain of ops back to back.
 * Ready groups are served oldest task first (launch order; see ReadyQueue). Running
 * ops share the device by processor sharing: each op's remaining work (alone-latency ms) drains at
 * rate 1 / (contention slowdown × memory slowdown), recomputed whenever the set of running ops or
 * the memory in use changes; an op whose rate changed gets a new finish event and its old one is
 * recognised as stale by a per-stream version number.
 *
 * Memory: every model's weights are resident once (shared by all its tasks); a task holds its
 * plan's activation bytes (the memory planner's arena by default) from submission to completion; past capacity every op slows by the
 * page-fault penalty (modes.ts memorySlowdown).
 *
 * Hot path: all task, stream and queue state is in typed arrays, indexed by small integers;
 * nothing is allocated per event (arrays double when they fill, amortised).
 */
import { EnvError } from '../core.js';
import { slowdown } from './contention.js';
import { memorySlowdown, transferMs } from './modes.js';
import {
  EV_COPY,
  EV_OP,
  EV_PHASE,
  EV_PREPROC,
  EV_SWITCH,
  G_D2H,
  G_H2D,
  grow32,
  grow64,
  JOB_COPY,
  JOB_OP,
  normalFromId,
  SimState,
  ST_COMPUTE,
  ST_D2H,
  ST_H2D,
  ST_PRE,
} from './state.js';

export type { SimModel, SimStats, SimulatorOptions } from './state.js';

/** The simulator: behaviour over the state of state.ts. */
export class Simulator extends SimState {
  // ---------------------------------------------------------------- task lifecycle

  /** Launches task `id` of `model` with compiled plan `plan` at the current time. */
  submit(id: number, model: number, plan: number): void {
    if (plan < 0 || plan >= this.plans.info.length) throw new EnvError(`unknown plan ${plan}`);
    if (this.nFree === 0) this.growTasks();
    const slot = this.freeSlots[--this.nFree];
    const P = this.plans;
    this.tId[slot] = id;
    this.tModel[slot] = model;
    this.tPlan[slot] = plan;
    this.tPhase[slot] = P.planPhaseStart[plan] - 1;
    this.tLeft[slot] = 0;
    this.tAct[slot] = P.planActBytes[plan];
    const sigma = this.jitter[model];
    this.tSpeed[slot] = sigma > 0 ? Math.exp(sigma * normalFromId(id, model)) : 1;
    this.tSeq[slot] = this.launchSeq++ * 65536;
    this.tStage[slot] = ST_PRE;
    if (this.inOrder) this.enqueuePlan(slot, model, plan);
    this.memoryUsed += P.planActBytes[plan];
    this.inFlight[model]++;
    this.stats.tasksSubmitted++;
    const t = this.now;
    if (this.modes.pipeline) {
      if (this.cpuBusy < this.modes.preprocWorkers) this.startPreproc(slot, t);
      else this.cpuQueue.push(slot);
    } else this.transferIn(slot, t);
    this.dispatch(t);
    // Rates (and so finish events) of the new jobs are settled lazily, once per batch of submits.
    this.dirty = true;
  }

  /** In-order policy: puts the task's whole plan on its streams, as a host thread would launch it. */
  private enqueuePlan(slot: number, model: number, plan: number): void {
    const P = this.plans;
    const S = this.S;
    const base = this.modes.mode === 'streams' ? 0 : model * S;
    let home = 0;
    let best = Number.POSITIVE_INFINITY;
    for (let k = 0; k < S; k++) {
      const s = (this.homeRR + k) % S;
      if (this.sPending[base + s] < best) {
        best = this.sPending[base + s];
        home = s;
      }
    }
    this.homeRR++;
    this.tHome[slot] = base + home;
    this.tBase[slot] = base;
    const pageable = this.modes.transfers === 'pageable';
    if (pageable) this.sQueue[base + home].push(slot, G_H2D);
    for (let ph = P.planPhaseStart[plan]; ph < P.planPhaseEnd[plan]; ph++) {
      const g0 = P.phaseGroupStart[ph];
      const g1 = P.phaseGroupEnd[ph];
      for (let g = g0; g < g1; g++) {
        const s = base + ((home + g - g0) % S);
        this.sQueue[s].push(slot, g);
        this.sPending[s] += P.groupMs[g];
      }
    }
    if (pageable) this.sQueue[base + home].push(slot, G_D2H);
  }

  private growTasks(): void {
    const old = this.tId.length;
    const n = old * 2;
    this.tId = grow32(this.tId, n);
    this.tModel = grow32(this.tModel, n);
    this.tPlan = grow32(this.tPlan, n);
    this.tPhase = grow32(this.tPhase, n);
    this.tLeft = grow32(this.tLeft, n);
    this.tAct = grow64(this.tAct, n);
    this.tSpeed = grow64(this.tSpeed, n);
    this.tSeq = grow64(this.tSeq, n);
    this.tStage = grow32(this.tStage, n);
    this.tHome = grow32(this.tHome, n);
    this.tBase = grow32(this.tBase, n);
    this.freeSlots = new Int32Array(n);
    this.nFree = 0;
    for (let s = n - 1; s >= old; s--) this.freeSlots[this.nFree++] = s;
  }

  private startPreproc(slot: number, t: number): void {
    this.cpuBusy++;
    const batch = this.plans.info[this.tPlan[slot]].batch;
    this.heap.push(t + this.modes.preprocMsPerSample * batch, EV_PREPROC, slot, 0);
  }

  private transferIn(slot: number, t: number): void {
    const tr = this.modes.transfers;
    this.tStage[slot] = ST_H2D;
    if (tr === 'none') this.nextPhase(slot, t);
    else if (tr === 'pinned') this.engineCopy(0, slot, t);
    else this.makeReady(slot, G_H2D);
  }

  /** A job's stage has begun: it may start once a stream (its own, in order) takes it. */
  private makeReady(slot: number, group: number): void {
    const m = this.tModel[slot];
    this.readyCount[m]++;
    const P = this.plans;
    const inPhase = group < 0 ? 0 : group - P.phaseGroupStart[P.groupPhase[group]];
    if (this.inOrder) {
      const base = this.tBase[slot];
      this.kick(group < 0 ? this.tHome[slot] : base + ((this.tHome[slot] - base + inPhase) % this.S));
    } else this.ready[m].push(this.tSeq[slot] + inPhase, slot, group);
  }

  private kick(s: number): void {
    if (this.kicked[s]) return;
    this.kicked[s] = 1;
    this.kickStack[this.nKick++] = s;
  }

  /** Kicks every stream of model m's stream set (its context became active). */
  private kickModel(m: number): void {
    for (let s = m * this.S; s < (m + 1) * this.S; s++) this.kick(s);
  }

  private engineCopy(engine: number, slot: number, t: number): void {
    if (this.engBusy[engine]) {
      this.engQueue[engine].push(slot);
      return;
    }
    this.engBusy[engine] = 1;
    const P = this.plans;
    const bytes = engine === 0 ? P.planInBytes[this.tPlan[slot]] : P.planOutBytes[this.tPlan[slot]];
    this.heap.push(t + transferMs(this.modes, bytes), EV_COPY, slot, engine);
  }

  /** Moves a task to its next phase (enqueuing its groups), or past its last one. */
  private nextPhase(slot: number, t: number): void {
    const P = this.plans;
    const ph = ++this.tPhase[slot];
    if (ph >= P.planPhaseEnd[this.tPlan[slot]]) {
      const tr = this.modes.transfers;
      this.tStage[slot] = ST_D2H;
      if (tr === 'none') this.finishTask(slot, t);
      else if (tr === 'pinned') this.engineCopy(1, slot, t);
      else this.makeReady(slot, G_D2H);
      return;
    }
    this.tStage[slot] = ST_COMPUTE;
    const g0 = P.phaseGroupStart[ph];
    const g1 = P.phaseGroupEnd[ph];
    for (let g = g0; g < g1; g++) this.makeReady(slot, g);
    this.tLeft[slot] = g1 - g0;
  }

  private finishTask(slot: number, t: number): void {
    if (this.completedCount === this.completedIds.length) {
      this.completedIds = grow32(this.completedIds, this.completedIds.length * 2);
      this.completedAt = grow64(this.completedAt, this.completedAt.length * 2);
    }
    this.completedIds[this.completedCount] = this.tId[slot];
    this.completedAt[this.completedCount++] = t;
    this.inFlight[this.tModel[slot]]--;
    this.memoryUsed -= this.tAct[slot];
    this.stats.tasksCompleted++;
    this.freeSlots[this.nFree++] = slot;
  }

  // ---------------------------------------------------------------- streams

  private startJob(s: number, slot: number, group: number): void {
    const P = this.plans;
    this.sTask[s] = slot;
    this.sGroup[s] = group;
    this.sRate[s] = 0;
    this.busyList[this.busyStreams] = s;
    this.busyAt[s] = this.busyStreams++;
    const m = this.tModel[slot];
    this.running[m]++;
    this.readyCount[m]--;
    this.stats.opEvents++;
    if (group < 0) {
      this.sKind[s] = JOB_COPY;
      this.sShare[s] = 0;
      const bytes = group === G_H2D ? P.planInBytes[this.tPlan[slot]] : P.planOutBytes[this.tPlan[slot]];
      this.sRem[s] = transferMs(this.modes, bytes);
      return;
    }
    if (this.inOrder) this.sPending[s] -= P.groupMs[group];
    const o = P.groupOpStart[group];
    this.sKind[s] = JOB_OP;
    this.sOp[s] = o;
    this.sRem[s] = P.opMs[o] * this.tSpeed[slot];
    this.sShare[s] = P.opShare[o];
  }

  /** First idle stream in [from, to), or -1. */
  private idleStream(from: number, to: number): number {
    const st = this.sTask;
    for (let s = from; s < to; s++) if (st[s] < 0) return s;
    return -1;
  }

  /** In-order policy: whether the job at the head of a stream queue may start now. */
  private runnable(slot: number, group: number): boolean {
    const st = this.tStage[slot];
    if (group === G_H2D) return st === ST_H2D;
    if (group === G_D2H) return st === ST_D2H;
    return st === ST_COMPUTE && this.plans.groupPhase[group] === this.tPhase[slot];
  }

  /** Starts ready work on idle streams, as the mode and the stream policy allow. */
  private dispatch(t: number): void {
    const mode = this.modes.mode;
    const M = this.nModels;
    const S = this.S;
    if (mode === 'contexts' && !this.contextReady(t)) return;
    if (this.inOrder) {
      const from = mode === 'contexts' ? this.ctxActive * S : 0;
      const to = mode === 'contexts' ? from + S : this.nStreams;
      const st = this.sTask;
      while (this.nKick > 0) {
        const s = this.kickStack[--this.nKick];
        this.kicked[s] = 0;
        // An inactive context's streams are kicked again when it becomes active.
        if (s < from || s >= to || st[s] >= 0) continue;
        const q = this.sQueue[s];
        if (q.n === 0) continue;
        const slot = q.headTask();
        const g = q.headGroup();
        if (!this.runnable(slot, g)) continue;
        q.pop();
        this.startJob(s, slot, g);
      }
      return;
    }
    if (mode !== 'streams') {
      // Each model's work runs on its own stream set (one context or MPS client per model).
      for (let m = mode === 'contexts' ? this.ctxActive : 0; m < M; m++) {
        const q = this.ready[m];
        while (q.n > 0) {
          const s = this.idleStream(m * S, (m + 1) * S);
          if (s < 0) break;
          q.pop();
          this.startJob(s, q.outTask, q.outGroup);
        }
        if (mode === 'contexts') break;
      }
      return;
    }
    // streams: all models share the streams; the oldest task's ready group goes first.
    while (this.busyStreams < this.nStreams) {
      let best = -1;
      let bestKey = Number.POSITIVE_INFINITY;
      for (let m = 0; m < M; m++) {
        const k = this.ready[m].headKey();
        if (k < bestKey) {
          bestKey = k;
          best = m;
        }
      }
      if (best < 0) return;
      const q = this.ready[best];
      q.pop();
      this.startJob(this.idleStream(0, this.nStreams), q.outTask, q.outGroup);
    }
  }

  /**
   * Contexts mode: settles which model owns the device. Returns true when the active model may
   * start more work now; starts a context switch (and returns false) when it must hand over.
   */
  private contextReady(t: number): boolean {
    if (this.ctxSwitching) return false;
    const M = this.nModels;
    const a = this.ctxActive;
    const hasReady = (m: number) => this.readyCount[m] > 0;
    let otherWaiting = false;
    for (let m = 0; m < M; m++) if (m !== a && hasReady(m)) otherWaiting = true;
    if (a >= 0) {
      const busy = this.running[a] > 0;
      const expired = t - this.ctxSliceStart >= this.modes.timeSliceMs;
      if (hasReady(a) && !(expired && otherWaiting)) return true;
      // Hand over only once the active model's kernels have drained (no preemption).
      if (busy || !otherWaiting) return hasReady(a) && !otherWaiting;
    }
    // Pick the next model with ready work, round robin after the active one.
    let next = -1;
    for (let k = 1; k <= M; k++) {
      const m = ((((a < 0 ? -1 : a) + k) % M) + M) % M;
      if (hasReady(m)) {
        next = m;
        break;
      }
    }
    if (next < 0) return false;
    if (a < 0 || next === a || this.modes.contextSwitchMs === 0) {
      this.ctxActive = next;
      this.ctxSliceStart = t;
      if (this.inOrder) this.kickModel(next);
      return true;
    }
    this.ctxSwitching = true;
    this.ctxActive = -1;
    this.heap.push(t + this.modes.contextSwitchMs, EV_SWITCH, next, 0);
    return false;
  }

  /** A stream's job finished at t: continue its chain, or free the stream and move the task on. */
  private jobDone(s: number, t: number): void {
    const P = this.plans;
    const slot = this.sTask[s];
    this.stats.opEvents++;
    if (this.sKind[s] === JOB_OP) {
      const o = this.sOp[s] + 1;
      if (o < P.groupOpEnd[this.sGroup[s]]) {
        // Next op of the chain, same stream, no gap.
        this.sOp[s] = o;
        this.sRem[s] = P.opMs[o] * this.tSpeed[slot];
        this.sShare[s] = P.opShare[o];
        this.sRate[s] = 0;
        this.stats.opEvents++;
        return;
      }
    }
    const group = this.sGroup[s];
    this.sTask[s] = -1;
    const at = this.busyAt[s];
    const last = this.busyList[--this.busyStreams];
    this.busyList[at] = last;
    this.busyAt[last] = at;
    if (this.inOrder) this.kick(s);
    this.running[this.tModel[slot]]--;
    if (group === G_H2D) this.nextPhase(slot, t);
    else if (group === G_D2H) this.finishTask(slot, t);
    else if (--this.tLeft[slot] === 0) {
      const sync = P.phaseSyncMs[this.tPhase[slot]];
      if (sync > 0) this.heap.push(t + sync, EV_PHASE, slot, 0);
      else this.nextPhase(slot, t);
    }
  }

  /** Drains every running job's remaining work up to time t and accrues busy time. */
  private advanceClock(t: number): void {
    const dt = t - this.lastT;
    if (dt > 0) {
      const list = this.busyList;
      for (let i = 0; i < this.busyStreams; i++) {
        const s = list[i];
        this.sRem[s] -= dt * this.sRate[s];
        this.streamBusyMs[s] += dt;
      }
    }
    this.lastT = t;
  }

  /** Recomputes every running job's rate; a job whose rate changed gets a fresh finish event. */
  private reschedule(t: number): void {
    const list = this.busyList;
    const nb = this.busyStreams;
    const kind = this.sKind;
    const share = this.sShare;
    const rate = this.sRate;
    const rem = this.sRem;
    const mem = memorySlowdown(this.memoryUsed, this.capacityBytes, this.pageFaultPenalty);
    const p = this.contention;
    let n = 0;
    let demand = 0;
    for (let i = 0; i < nb; i++) {
      const s = list[i];
      if (kind[s] === JOB_OP) {
        n++;
        demand += share[s];
      }
    }
    const mps = this.modes.mode === 'mps';
    let opRate = 0;
    if (mps) {
      // Per client: its demand against its cap; all clients together against the device.
      const D = this.clientDemand;
      const F = this.clientFactor;
      const SP = this.S;
      const caps = this.modes.mpsShare;
      D.fill(0);
      for (let i = 0; i < nb; i++) {
        const s = list[i];
        if (kind[s] === JOB_OP) D[(s / SP) | 0] += share[s];
      }
      let total = 0;
      for (let c = 0; c < this.nModels; c++) total += Math.min(D[c], caps[c]);
      const global = (total > 1 ? (p.beta === 1 ? total : total ** p.beta) : 1) * (n > 1 ? 1 + p.alpha * (n - 1) : 1) * mem;
      for (let c = 0; c < this.nModels; c++) {
        const x = D[c] / caps[c];
        F[c] = 1 / ((x > 1 ? (p.beta === 1 ? x : x ** p.beta) : 1) * global);
      }
    } else opRate = 1 / (slowdown(p, n, demand) * mem);
    for (let i = 0; i < nb; i++) {
      const s = list[i];
      const r = kind[s] === JOB_COPY ? 1 : mps ? this.clientFactor[(s / this.S) | 0] : opRate;
      if (r !== rate[s]) {
        rate[s] = r;
        const v = ++this.sVer[s];
        const left = Math.max(rem[s], 0);
        this.heap.push(t + left / r, EV_OP, s, v);
      }
    }
  }

  /** Runs every event up to and including time `until` (ms), then sets the clock to `until`. */
  advance(until: number): void {
    if (!(until >= this.now) || !Number.isFinite(until)) throw new EnvError(`cannot advance from ${this.now} ms to ${until} ms`);
    const heap = this.heap;
    this.reschedule(this.now);
    this.dirty = false;
    for (;;) {
      const t = heap.peekTime();
      if (t > until || heap.size === 0) break;
      this.advanceClock(t);
      this.now = t;
      do {
        const slot = heap.pop();
        this.stats.heapPops++;
        const kind = heap.kind[slot];
        const a = heap.a[slot];
        const b = heap.b[slot];
        switch (kind) {
          case EV_OP:
            if (b !== this.sVer[a] || this.sTask[a] < 0) {
              this.stats.stalePops++;
              break;
            }
            this.sRem[a] = 0;
            this.jobDone(a, t);
            break;
          case EV_PHASE:
            this.nextPhase(a, t);
            break;
          case EV_COPY: {
            this.stats.opEvents++;
            this.engBusy[b] = 0;
            const q = this.engQueue[b];
            if (q.n > 0) this.engineCopy(b, q.pop(), t);
            if (b === 0) this.nextPhase(a, t);
            else this.finishTask(a, t);
            break;
          }
          case EV_PREPROC:
            this.cpuBusy--;
            if (this.cpuQueue.n > 0) this.startPreproc(this.cpuQueue.pop(), t);
            this.transferIn(a, t);
            break;
          case EV_SWITCH:
            this.ctxSwitching = false;
            this.ctxActive = a;
            this.ctxSliceStart = t;
            if (this.inOrder) this.kickModel(a);
            break;
        }
      } while (heap.peekTime() === t);
      this.dispatch(t);
      this.reschedule(t);
    }
    this.advanceClock(until);
    this.now = until;
  }

  /** Time of the next pending event (+Infinity when the device is idle and nothing is pending). */
  nextEventTime(): number {
    if (this.dirty) {
      this.reschedule(this.now);
      this.dirty = false;
    }
    return this.heap.peekTime();
  }

  /** Whether nothing is running, queued or pending. */
  idle(): boolean {
    // Stale finish events may linger in the heap; they carry no work.
    return this.stats.tasksSubmitted === this.stats.tasksCompleted;
  }
}
