package basiqtest

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// The step titles of a connection job.
const (
	stepVerify       = "verify-credentials"
	stepMFA          = "mfa-challenge"
	stepAccounts     = "retrieve-accounts"
	stepTransactions = "retrieve-transactions"
)

// Step statuses.
const (
	statusPending    = "pending"
	statusInProgress = "in-progress"
	statusSuccess    = "success"
	statusFailed     = "failed"
	statusSkipped    = "skipped"
)

// mfaExpiry is how long an MFA challenge waits for its answer.
const mfaExpiry = 120 * time.Second

// job is a connection job. Its steps are not stored: they are computed from
// its start time, its step durations and the MFA answer on every read.
type job struct {
	id, userID, connID, instID string
	seq                        int64
	created                    time.Time
	durVerify, durAccounts     time.Duration
	durTransactions            time.Duration

	// verifyErr is how verify-credentials ends: nil for success.
	verifyErr *stepError
	// hasMFA: the job has an mfa-challenge step; askMFA: the bank asks
	// (otherwise the step is skipped).
	hasMFA, askMFA bool
	// mfaAnswered is set by POST /jobs/{id}/mfa, at mfaAt; mfaRight says
	// whether the code was right.
	mfaAnswered, mfaRight bool
	mfaAt                 time.Time

	// What settle has applied to the connection already.
	appliedVerify, appliedAccounts, appliedTransactions bool
	// finished: every step has ended (or one failed) and its effects are
	// applied. deleted: its connection was deleted.
	finished, deleted bool
}

// stepError is a failed step's result.
type stepError struct {
	code, title, detail string
}

var (
	errWrongMFA   = &stepError{code: "invalid-credentials", title: "Invalid MFA response", detail: "Incorrect one-time code"}
	errMFAExpired = &stepError{code: "job-timed-out", title: "MFA challenge expired", detail: "No answer to the MFA challenge within 120 s"}
)

// stepState is one step at some instant.
type stepState struct {
	title, status string
	err           *stepError // a failed step's result
	waitingMFA    bool       // an mfa-challenge waiting for its answer
}

// timeline is a job's state at some instant.
type timeline struct {
	steps   []stepState
	updated time.Time
	// done: every step ended or one failed; failed: one failed.
	done, failed bool
	// The instants steps succeeded; zero if they have not (yet).
	verifiedAt, accountsAt, transactionsAt time.Time
	waitingMFA                             bool
}

// timeline computes the job's steps at now. A step is pending before it
// starts, in progress for its duration, then succeeds or fails; once one
// fails, the later ones stay pending.
func (j *job) timeline(now time.Time) timeline {
	tl := timeline{updated: j.created}
	titles := []string{stepVerify}
	if j.hasMFA {
		titles = append(titles, stepMFA)
	}
	titles = append(titles, stepAccounts, stepTransactions)
	for _, t := range titles {
		tl.steps = append(tl.steps, stepState{title: t, status: statusPending})
	}
	i := 0
	// set gives the next step its state, changed at at.
	set := func(status string, at time.Time) *stepState {
		st := &tl.steps[i]
		st.status = status
		if at.After(tl.updated) {
			tl.updated = at
		}
		i++
		return st
	}
	// timed runs the next step from start (never after now: a step starts
	// when the one before it ends) for d; it reports whether the step has
	// succeeded, and when.
	timed := func(start time.Time, d time.Duration, fails *stepError) (time.Time, bool) {
		end := start.Add(d)
		switch {
		case now.Before(end):
			set(statusInProgress, start)
			return time.Time{}, false
		case fails != nil:
			set(statusFailed, end).err = fails
			tl.done, tl.failed = true, true
			return time.Time{}, false
		}
		set(statusSuccess, end)
		return end, true
	}

	t, good := timed(j.created, j.durVerify, j.verifyErr)
	if !good {
		return tl
	}
	tl.verifiedAt = t
	if j.hasMFA {
		expires := t.Add(mfaExpiry)
		switch {
		case !j.askMFA:
			set(statusSkipped, t)
		case j.mfaAnswered && j.mfaRight:
			set(statusSuccess, j.mfaAt)
			t = j.mfaAt
		case j.mfaAnswered:
			set(statusFailed, j.mfaAt).err = errWrongMFA
			tl.done, tl.failed = true, true
			return tl
		case !now.Before(expires):
			set(statusFailed, expires).err = errMFAExpired
			tl.done, tl.failed = true, true
			return tl
		default:
			set(statusInProgress, t).waitingMFA = true
			tl.waitingMFA = true
			return tl
		}
	}
	if t, good = timed(t, j.durAccounts, nil); !good {
		return tl
	}
	tl.accountsAt = t
	if t, good = timed(t, j.durTransactions, nil); !good {
		return tl
	}
	tl.transactionsAt = t
	tl.done = true
	return tl
}

// startJob starts a job for cn; s.mu must be held.
func (s *Server) startJob(c *call, cn *connection) *job {
	in := s.instByID[cn.instID]
	cn.jobCount++
	s.seq++
	j := &job{
		id: s.newID(), userID: cn.userID, connID: cn.id, instID: in.ID, seq: s.seq, created: c.now,
		verifyErr: verifyOutcome(in, cn),
		hasMFA:    in.Authorization == authUserMFA || in.Authorization == authIntermittent,
	}
	j.durVerify, j.durAccounts, j.durTransactions = s.cfg.jobDurations(in.ID)
	if j.verifyErr != nil && s.cfg.failAfter > 0 {
		j.durVerify = s.cfg.failAfter
	}
	j.askMFA = in.Authorization == authUserMFA || (in.Authorization == authIntermittent && cn.jobCount%2 == 0)
	if cn.statement {
		j.verifyErr, j.hasMFA, j.askMFA = cn.statementErr, false, false
	}
	s.jobs[j.id] = j
	s.active = append(s.active, j)
	cn.current = j
	// A job whose steps take no time is over at once.
	s.settle(c.now)
	s.kickClock()
	return j
}

// settle applies what the running jobs have done by now to their
// connections: last use, accounts, transactions, status. s.mu must be held.
func (s *Server) settle(now time.Time) {
	s.active = slices.DeleteFunc(s.active, func(j *job) bool {
		if j.deleted {
			return true
		}
		tl := j.timeline(now)
		cn := s.conns[j.connID]
		if !tl.verifiedAt.IsZero() && !j.appliedVerify {
			j.appliedVerify = true
			cn.lastUsed = tl.verifiedAt
		}
		if !tl.accountsAt.IsZero() && !j.appliedAccounts {
			j.appliedAccounts = true
			s.loadAccounts(cn, tl.accountsAt)
		}
		if !tl.transactionsAt.IsZero() && !j.appliedTransactions {
			j.appliedTransactions = true
			s.loadTransactions(cn, tl.transactionsAt)
			s.emit(tl.transactionsAt, "transactions", "updated", cn.userID, "/users/"+cn.userID+"/transactions")
		}
		if !tl.done {
			return false
		}
		connRef := "/users/" + cn.userID + "/connections/" + cn.id
		switch {
		case !tl.failed:
			if cn.status != connActive {
				s.emit(tl.updated, "connection", "activated", cn.userID, connRef)
			}
			cn.status = connActive
		case tl.steps[0].status == statusFailed && tl.steps[0].err.code == "invalid-credentials":
			if cn.status != connInvalid {
				s.emit(tl.updated, "connection", "invalidated", cn.userID, connRef)
			}
			cn.status = connInvalid
		}
		j.finished = true
		return true
	})
}

// shortJobJSON is the answer of the calls that start a job.
type shortJobJSON struct {
	Type  string    `json:"type"`
	ID    string    `json:"id"`
	Links selfLinks `json:"links"`
}

func shortJob(c *call, j *job) shortJobJSON {
	return shortJobJSON{Type: "job", ID: j.id, Links: selfLinks{Self: c.base + "/jobs/" + j.id}}
}

// jobJSON is the wire form of a job.
type jobJSON struct {
	Type        string              `json:"type"`
	ID          string              `json:"id"`
	JobType     string              `json:"jobType,omitempty"` // 3.0 only
	Created     string              `json:"created"`
	Updated     string              `json:"updated"`
	Steps       []stepJSON          `json:"steps"`
	Institution *institutionRefJSON `json:"institution,omitempty"`
	Links       jobLinksJSON        `json:"links"`
}

type stepJSON struct {
	Title  string `json:"title"`
	Status string `json:"status"`
	Result any    `json:"result"`
}

type jobLinksJSON struct {
	Self   string `json:"self"`
	Source string `json:"source"`
}

type linkResultJSON struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type errorResultJSON struct {
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// mfaResultJSON is the result of an mfa-challenge step waiting for its
// answer.
type mfaResultJSON struct {
	Type        string         `json:"type"`
	Method      string         `json:"method"`
	Description string         `json:"description"`
	Input       []mfaInputJSON `json:"input"`
	ExpiryMs    int64          `json:"expiryMs"`
	Links       mfaResultLinks `json:"links"`
}

type mfaInputJSON struct {
	Type     string `json:"type"`
	Question string `json:"question"`
}

type mfaResultLinks struct {
	Response string `json:"response"`
}

// jobView renders j at c.now; withInstitution adds the institution, as
// list items have it.
func (s *Server) jobView(c *call, j *job, withInstitution bool) jobJSON {
	tl := j.timeline(c.now)
	userBase := "/users/" + j.userID
	out := jobJSON{
		Type: "job", ID: j.id, Created: timestamp(j.created), Updated: timestamp(tl.updated),
		Links: jobLinksJSON{Self: c.base + "/jobs/" + j.id, Source: c.base + userBase + "/connections/" + j.connID},
	}
	if c.v3() {
		out.JobType = "connection"
	}
	if withInstitution {
		out.Institution = &institutionRefJSON{Type: "institution", ID: j.instID, Links: &selfLinks{Self: c.base + "/institutions/" + j.instID}}
	}
	for _, st := range tl.steps {
		sj := stepJSON{Title: st.title, Status: st.status}
		switch {
		case st.err != nil:
			sj.Result = errorResultJSON{Code: st.err.code, Title: st.err.title, Detail: st.err.detail}
		case st.waitingMFA:
			sj.Result = mfaResultJSON{
				Type: "mfa", Method: "token", Description: "Enter the code sent to your phone",
				Input:    []mfaInputJSON{{Type: "text", Question: "One-time code"}},
				ExpiryMs: mfaExpiry.Milliseconds(),
				Links:    mfaResultLinks{Response: c.base + "/jobs/" + j.id + "/mfa"},
			}
		case st.status == statusSuccess && st.title == stepVerify:
			sj.Result = linkResultJSON{Type: "link", URL: userBase + "/connections/" + j.connID}
		case st.status == statusSuccess && st.title == stepAccounts:
			sj.Result = linkResultJSON{Type: "link", URL: filterLink("", userBase+"/accounts", j.connID)}
		case st.status == statusSuccess && st.title == stepTransactions:
			sj.Result = linkResultJSON{Type: "link", URL: filterLink("", userBase+"/transactions", j.connID)}
		}
		out.Steps = append(out.Steps, sj)
	}
	return out
}

// getJob is GET /jobs/{id}.
func (s *Server) getJob(c *call) reply {
	j, found := s.jobs[c.pv("id")]
	if !found {
		return fail(errNotFound("Job not found: " + c.pv("id")))
	}
	if !c.ownJob(j) {
		return fail(errForbidden("This CLIENT_ACCESS token is bound to another user"))
	}
	return answer(http.StatusOK, s.jobView(c, j, false))
}

// jobFields are the fields GET /users/{u}/jobs filters on.
var jobFields = fieldSet[*job]{
	"connection.id":  func(j *job) (string, bool) { return j.connID, true },
	"institution.id": func(j *job) (string, bool) { return j.instID, true },
	"job.id":         func(j *job) (string, bool) { return j.id, true },
}

// listJobs is GET /users/{u}/jobs, newest first.
func (s *Server) listJobs(c *call) reply {
	u, r, found := s.lookupUser(c)
	if !found {
		return r
	}
	match, r, bad := parseFilterParam(c, jobFields)
	if bad {
		return r
	}
	var jobs []*job
	for _, j := range s.jobs {
		if j.userID == u.id && match(j) {
			jobs = append(jobs, j)
		}
	}
	slices.SortFunc(jobs, func(a, b *job) int { return cmp.Compare(b.seq, a.seq) })
	data := []jobJSON{}
	for _, j := range jobs {
		data = append(data, s.jobView(c, j, true))
	}
	n := len(data)
	return answer(http.StatusOK, listJSON[jobJSON]{Type: "list", Count: n, Size: &n, Data: data,
		Links: &listLinks{Self: c.base + c.r.URL.RequestURI()}})
}

// answerMFA is POST /jobs/{id}/mfa: the right code lets the job go on from
// now; a wrong one fails mfa-challenge.
func (s *Server) answerMFA(c *call) reply {
	j, found := s.jobs[c.pv("id")]
	if !found {
		return fail(errNotFound("Job not found: " + c.pv("id")))
	}
	if !c.ownJob(j) {
		return fail(errForbidden("This CLIENT_ACCESS token is bound to another user"))
	}
	var b struct {
		Response []string `json:"mfa-response"`
	}
	if err := decodeJSON(c.r, &b); err != nil {
		return fail(*err)
	}
	if len(b.Response) == 0 {
		return fail(errMissing("/mfa-response", "mfa-response is required: a list of answers."))
	}
	if !j.timeline(c.now).waitingMFA {
		return fail(errInvalid("/mfa-response", "Job "+j.id+" is not waiting for an MFA response."))
	}
	j.mfaAnswered, j.mfaAt = true, c.now
	j.mfaRight = len(b.Response) == 1 && b.Response[0] == MFACode
	s.settle(c.now)
	s.kickClock()
	return answer(http.StatusAccepted, s.jobView(c, j, false))
}

// JobPlan is how a job of the server runs, as [Server.JobPlan] reports it:
// when it started and how long its timed steps take. A test can compute from
// it when the job ends, fails or asks for MFA, to measure how late a client
// notices.
type JobPlan struct {
	// Created is when the job started, on the server's clock.
	Created time.Time
	// Institution is the institution's id.
	Institution string
	// Verify, Accounts and Transactions are the durations of the timed
	// steps. mfa-challenge, when there is one, starts when verify-credentials
	// ends and lasts until answered.
	Verify, Accounts, Transactions time.Duration
	// Fails: verify-credentials fails at Created+Verify.
	Fails bool
	// AsksMFA: the job waits in mfa-challenge from Created+Verify.
	AsksMFA bool
}

// JobPlan returns the plan of the job with this id, and false if there is no
// such job.
func (s *Server) JobPlan(id string) (JobPlan, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, found := s.jobs[id]
	if !found {
		return JobPlan{}, false
	}
	return JobPlan{Created: j.created, Institution: j.instID, Verify: j.durVerify, Accounts: j.durAccounts,
		Transactions: j.durTransactions, Fails: j.verifyErr != nil, AsksMFA: j.hasMFA && j.askMFA}, true
}
