package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	connC1URL       = testBase + "/users/u1/connections/c1"
	connListURL     = testBase + "/users/u1/connections"
	connRefreshURL  = connC1URL + "/refresh"
	connRefAllURL   = testBase + "/users/u1/connections/refresh"
	userJobsURL     = testBase + "/users/u1/jobs"
	mfaURL          = testBase + "/jobs/j1/mfa"
	postMFAKey      = "POST " + mfaURL
	institutionsURL = testBase + "/institutions"

	connC1JSON = `{"type":"connection","id":"c1","status":"active",
		"createdDate":"2024-03-01T10:20:30Z","lastUsed":"2024-03-02 08:00:00","mfaEnabled":true,
		"institution":{"type":"institution","id":"AU00000","links":{"self":"https://api.test/institutions/AU00000"}},
		"accounts":{"type":"list","data":[
			{"type":"account","id":"a1","balance":"1234.56","availableFunds":12.5,"institution":"AU00000","connection":"c1",
			 "class":{"type":"transaction","product":"Everyday"},"lastUpdated":"2024-03-01T10:20:30Z"}]},
		"profile":{"fullName":"Gavin Belson"},
		"links":{"self":"https://api.test/users/u1/connections/c1","accounts":"https://api.test/users/u1/accounts?filter=connection.id.eq('c1')","transactions":"https://api.test/users/u1/transactions?filter=connection.id.eq('c1')"}}`

	// mfaCode is an MFA answer distinctive enough that finding it in a log
	// line or an error string cannot be a coincidence.
	mfaCode = "mfa-code-573920"
)

func TestConnectionDecoding(t *testing.T) {
	t.Parallel()
	var conn Connection
	require.NoError(t, json.Unmarshal([]byte(connC1JSON), &conn))
	assert.Equal(t, "c1", conn.ID)
	assert.Equal(t, ConnectionActive, conn.Status)
	assert.Equal(t, time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC), conn.CreatedDate)
	assert.Equal(t, time.Date(2024, 3, 2, 8, 0, 0, 0, time.UTC), conn.LastUsed)
	assert.True(t, conn.MFAEnabled)
	assert.Equal(t, InstitutionRef{ID: "AU00000"}, conn.Institution)
	require.Len(t, conn.Accounts.Data, 1)
	a := conn.Accounts.Data[0]
	assert.Equal(t, "a1", a.ID)
	assert.Equal(t, Decimal("1234.56"), a.Balance)
	assert.Equal(t, Decimal("12.5"), a.AvailableFunds)
	assert.Equal(t, "AU00000", a.Institution)
	assert.Equal(t, "c1", a.Connection)
	assert.Equal(t, AccountClass{Type: "transaction", Product: "Everyday"}, a.Class)
	assert.JSONEq(t, `{"fullName":"Gavin Belson"}`, string(conn.Profile))
	assert.Equal(t, ConnectionLinks{
		Self:         "https://api.test/users/u1/connections/c1",
		Accounts:     "https://api.test/users/u1/accounts?filter=connection.id.eq('c1')",
		Transactions: "https://api.test/users/u1/transactions?filter=connection.id.eq('c1')",
	}, conn.Links)

	// Timestamps are lenient: anything unreadable is zero, not an error.
	for _, raw := range []string{`""`, `null`, `"last tuesday"`, `12345`, `{}`} {
		var c Connection
		require.NoError(t, json.Unmarshal([]byte(`{"id":"c1","createdDate":`+raw+`,"lastUsed":`+raw+`}`), &c), raw)
		assert.True(t, c.CreatedDate.IsZero(), raw)
		assert.True(t, c.LastUsed.IsZero(), raw)
	}
	var c Connection
	require.NoError(t, json.Unmarshal([]byte(`{"id":"c1","status":"pending"}`), &c))
	assert.Equal(t, ConnectionPending, c.Status)
	assert.Empty(t, c.Accounts.Data)
}

func TestConnectionsGet(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusOK, connC1JSON)))

	conn, err := c.Connections.Get(t.Context(), "u1", "c1")
	require.NoError(t, err)
	require.NotNil(t, conn)
	assert.Equal(t, "c1", conn.ID)
	assert.Equal(t, time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC), conn.CreatedDate)
	require.Len(t, conn.Accounts.Data, 1)
	assert.Equal(t, Decimal("1234.56"), conn.Accounts.Data[0].Balance)

	_, err = c.Connections.Get(t.Context(), "u/1", "c 1")
	require.NoError(t, err)
	reqs := rec.all()
	require.Len(t, reqs, 2)
	assert.Equal(t, "GET /users/u1/connections/c1", reqs[0].Method+" "+reqs[0].Path)
	assert.Equal(t, "GET /users/u%2F1/connections/c%201", reqs[1].Method+" "+reqs[1].Path)

	_, err = c.Connections.Get(t.Context(), "", "..")
	assert.Equal(t, []string{"userId", "connectionId"}, validationFields(t, err))
	assert.Len(t, rec.all(), 2, "refused ids make no request")
}

func TestConnectionsList(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	mt.RegisterResponder(http.MethodGet, connListURL, jsonResp(http.StatusOK,
		`{"type":"list","count":2,"data":[`+connC1JSON+`,{"type":"connection","id":"c2","status":"invalid","createdDate":"","institution":{"id":"AU00001"}}]}`))

	conns, err := c.Connections.List(t.Context(), "u1")
	require.NoError(t, err)
	require.Len(t, conns, 2)
	assert.Equal(t, "c1", conns[0].ID)
	require.Len(t, conns[0].Accounts.Data, 1)
	assert.Equal(t, "a1", conns[0].Accounts.Data[0].ID)
	assert.Equal(t, "c2", conns[1].ID)
	assert.Equal(t, ConnectionInvalid, conns[1].Status)
	assert.True(t, conns[1].CreatedDate.IsZero())
	assert.Equal(t, "AU00001", conns[1].Institution.ID)
	assert.Equal(t, 1, calls(mt, "GET "+connListURL))

	_, err = c.Connections.List(t.Context(), " ")
	assert.Equal(t, []string{"userId"}, validationFields(t, err))
	assert.Equal(t, 1, calls(mt, "GET "+connListURL))
}

func TestConnectionsUpdate(t *testing.T) {
	t.Parallel()

	t.Run("posts the wire form; 202 is a new job", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		var rec reqRecorder
		mt.RegisterResponder(http.MethodPost, connC1URL, rec.wrap(jsonResp(http.StatusAccepted, connJobJSON)))

		job, err := c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{
			Password: secretPassword, SecurityCode: secretSecurityCode, SecondaryLoginID: "cust-1",
		})
		require.NoError(t, err)
		require.NotNil(t, job)
		assert.Equal(t, "61723", job.ID)
		assert.False(t, job.Reused)

		_, err = c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{Password: secretPassword})
		require.NoError(t, err)

		reqs := rec.all()
		require.Len(t, reqs, 2)
		assert.Equal(t, "/users/u1/connections/c1", reqs[0].Path)
		assert.Equal(t, "application/json", reqs[0].ContentType)
		assert.Equal(t, map[string]any{
			"password": secretPassword, "securityCode": secretSecurityCode, "secondaryLoginId": "cust-1",
		}, jsonFields(t, reqs[0].Body), "the request carries the real secrets")
		assert.Equal(t, map[string]any{"password": secretPassword}, jsonFields(t, reqs[1].Body), "empty fields are not sent")
	})

	t.Run("200 is the job already running", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, connC1URL, jsonResp(http.StatusOK, connJobJSON))
		job, err := c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{Password: secretPassword})
		require.NoError(t, err)
		assert.Equal(t, "61723", job.ID)
		assert.True(t, job.Reused)
	})

	t.Run("password required, without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		for _, p := range []ConnectionUpdateParams{
			{},
			{Password: "  \t"},
			{SecurityCode: secretSecurityCode, SecondaryLoginID: "cust-1"},
		} {
			job, err := c.Connections.Update(t.Context(), "u1", "c1", p)
			assert.Nil(t, job)
			assert.Equal(t, []string{"password"}, validationFields(t, err))
			assertNoSecrets(t, err.Error())
		}
		_, err := c.Connections.Update(t.Context(), "", "c1\n", ConnectionUpdateParams{})
		assert.Equal(t, []string{"userId", "connectionId", "password"}, validationFields(t, err))
		assert.Equal(t, 0, mt.GetTotalCallCount(), "%v", mt.GetCallCountInfo())
	})

	t.Run("API error carries no secret", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, connC1URL, jsonResp(http.StatusBadRequest,
			`{"type":"list","correlationId":"c400","data":[{"code":"parameter-not-valid","title":"Parameter value is not valid","source":{"pointer":"/password"}}]}`))
		_, err := c.Connections.Update(t.Context(), "u1", "c1", ConnectionUpdateParams{Password: secretPassword, SecurityCode: secretSecurityCode})
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "/password", apiErr.Errors[0].Source.Pointer)
		assertNoSecrets(t, err.Error())
		assert.Equal(t, 1, calls(mt, "POST "+connC1URL))
	})
}

func TestConnectionUpdateParamsRedaction(t *testing.T) {
	t.Parallel()
	p := ConnectionUpdateParams{Password: secretPassword, SecurityCode: secretSecurityCode, SecondaryLoginID: "cust-1"}
	type wrapper struct {
		Name   string
		Params ConnectionUpdateParams
	}
	type ptrWrapper struct {
		Params *ConnectionUpdateParams
	}
	values := map[string]any{
		"value":          p,
		"pointer":        &p,
		"struct":         wrapper{Name: "w", Params: p},
		"pointer struct": &wrapper{Name: "w", Params: p},
		"struct pointer": ptrWrapper{Params: &p},
		"slice":          []ConnectionUpdateParams{p},
		"map":            map[string]ConnectionUpdateParams{"k": p},
		"any slice":      []any{p, &p},
	}

	t.Run("fmt", func(t *testing.T) {
		t.Parallel()
		for name, v := range values {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
				out := fmt.Sprintf(verb, v)
				assertNoSecrets(t, out)
				assert.Contains(t, out, redacted, "%s with %s: %s", name, verb, out)
				assert.Contains(t, out, "cust-1", "%s with %s: the secondary login id is shown", name, verb)
			}
		}
		assert.Equal(t, p.String(), fmt.Sprint(p))
		assert.Equal(t, p.String(), fmt.Sprintf("%#v", p))
		assert.NotContains(t, ConnectionUpdateParams{SecondaryLoginID: "x"}.String(), redacted, "unset secrets are not marked as set")
	})

	t.Run("slog", func(t *testing.T) {
		t.Parallel()
		for name, newHandler := range map[string]func(io.Writer) slog.Handler{
			"json": func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
			"text": func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
		} {
			var buf bytes.Buffer
			l := slog.New(newHandler(&buf))
			l.Info("update", slog.Any("params", p))
			l.Info("update", slog.Any("params", &p))
			l.Info("update", "params", p)
			l.Info("update", slog.Group("req", slog.Any("params", p)))
			l.With(slog.Any("params", p)).Info("update")
			l.Info("update", slog.Any("req", wrapper{Name: "w", Params: p}))
			l.Info("update", slog.Any("req", &wrapper{Name: "w", Params: p}))
			l.Info("update", slog.Any("req", ptrWrapper{Params: &p}))
			l.Info("update", slog.Any("all", []ConnectionUpdateParams{p}))
			out := buf.String()
			assertNoSecrets(t, out)
			assert.Equal(t, 9, strings.Count(out, "cust-1"), "%s: every record shows the params: %s", name, out)
			assert.Equal(t, 9, strings.Count(strings.TrimSpace(out), "\n")+1, "%s: one line per record", name)
			assert.Contains(t, out, redacted, name)
		}
	})

	t.Run("json handler shape", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("update", slog.Any("params", p))
		var rec struct {
			Params map[string]string `json:"params"`
		}
		require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
		assert.Equal(t, map[string]string{"password": redacted, "securityCode": redacted, "secondaryLoginId": "cust-1"}, rec.Params)
	})

	t.Run("json.Marshal", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(p)
		require.NoError(t, err)
		assert.JSONEq(t, `{"password":"[REDACTED]","securityCode":"[REDACTED]","secondaryLoginId":"cust-1"}`, string(b))
		for name, v := range values {
			b, err := json.Marshal(v)
			require.NoError(t, err, name)
			assertNoSecrets(t, string(b))
			assert.Contains(t, string(b), redacted, name)
		}
		b, err = json.Marshal(ConnectionUpdateParams{})
		require.NoError(t, err)
		assert.JSONEq(t, `{}`, string(b))
	})
}

func TestConnectionsRefresh(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		reused bool
	}{{http.StatusAccepted, false}, {http.StatusOK, true}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			failOnUnexpected(t, mt)
			var rec reqRecorder
			mt.RegisterResponder(http.MethodPost, connRefreshURL, rec.wrap(jsonResp(tc.status, connJobJSON)))

			job, err := c.Connections.Refresh(t.Context(), "u1", "c1")
			require.NoError(t, err)
			assert.Equal(t, "61723", job.ID)
			assert.Equal(t, tc.reused, job.Reused)
			reqs := rec.all()
			require.Len(t, reqs, 1)
			assert.Equal(t, "/users/u1/connections/c1/refresh", reqs[0].Path)
			assert.Empty(t, reqs[0].Body)
			assert.Equal(t, "Bearer tok-1", reqs[0].Auth)
		})
	}

	t.Run("retried on 503", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, connRefreshURL,
			jsonResp(http.StatusServiceUnavailable, connErr503).Then(jsonResp(http.StatusAccepted, connJobJSON)))
		_, err := c.Connections.Refresh(t.Context(), "u1", "c1")
		require.NoError(t, err)
		assert.Equal(t, 2, calls(mt, "POST "+connRefreshURL))
	})

	t.Run("bad ids refused without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		_, err := c.Connections.Refresh(t.Context(), "u1", "")
		assert.Equal(t, []string{"connectionId"}, validationFields(t, err))
		assert.Equal(t, 0, mt.GetTotalCallCount())
	})
}

func TestConnectionsRefreshAll(t *testing.T) {
	t.Parallel()
	const twoJobs = `{"type":"list","data":[
		{"type":"job","id":"j1","links":{"self":"https://api.test/jobs/j1","source":"https://api.test/users/u1/connections/c1"}},
		{"type":"job","id":"j2","links":{"self":"https://api.test/jobs/j2","source":"https://api.test/users/u1/connections/c2"}}]}`
	for _, tc := range []struct {
		status int
		reused bool
	}{{http.StatusAccepted, false}, {http.StatusOK, true}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			failOnUnexpected(t, mt)
			var rec reqRecorder
			mt.RegisterResponder(http.MethodPost, connRefAllURL, rec.wrap(jsonResp(tc.status, twoJobs)))

			jobs, err := c.Connections.RefreshAll(t.Context(), "u1")
			require.NoError(t, err)
			require.Len(t, jobs, 2)
			assert.Equal(t, []string{"j1", "j2"}, []string{jobs[0].ID, jobs[1].ID})
			assert.Equal(t, []string{"c1", "c2"}, []string{jobs[0].ConnectionID(), jobs[1].ConnectionID()})
			for _, j := range jobs {
				assert.Equal(t, tc.reused, j.Reused, j.ID)
			}
			reqs := rec.all()
			require.Len(t, reqs, 1)
			assert.Equal(t, "/users/u1/connections/refresh", reqs[0].Path)
			assert.Empty(t, reqs[0].Body)
		})
	}

	t.Run("empty list", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, connRefAllURL, jsonResp(http.StatusAccepted, `{"type":"list","data":[]}`))
		jobs, err := c.Connections.RefreshAll(t.Context(), "u1")
		require.NoError(t, err)
		assert.Empty(t, jobs)
	})

	t.Run("error", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, connRefAllURL, jsonResp(http.StatusForbidden,
			`{"type":"list","data":[{"code":"forbidden-access","title":"Forbidden"}]}`))
		jobs, err := c.Connections.RefreshAll(t.Context(), "u1")
		assert.Nil(t, jobs)
		require.ErrorIs(t, err, ErrForbidden)
	})

	t.Run("bad id refused without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		_, err := c.Connections.RefreshAll(t.Context(), "..")
		assert.Equal(t, []string{"userId"}, validationFields(t, err))
		assert.Equal(t, 0, mt.GetTotalCallCount())
	})
}

func TestConnectionsDelete(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	mt.RegisterResponder(http.MethodDelete, connC1URL, httpmock.NewStringResponder(http.StatusNoContent, ""))
	mt.RegisterResponder(http.MethodDelete, testBase+"/users/u1/connections/gone", jsonResp(http.StatusNotFound, user404JSON))

	require.NoError(t, c.Connections.Delete(t.Context(), "u1", "c1"))
	assert.Equal(t, 1, calls(mt, "DELETE "+connC1URL))

	err := c.Connections.Delete(t.Context(), "u1", "gone")
	require.ErrorIs(t, err, ErrNotFound)

	for _, ids := range [][2]string{{"", "c1"}, {"u1", ""}, {"u1", ".."}, {"u\n1", "c1"}} {
		err := c.Connections.Delete(t.Context(), ids[0], ids[1])
		require.ErrorIs(t, err, ErrValidation, "%q", ids)
	}
	assert.Equal(t, 1, calls(mt, "DELETE "+connC1URL), "refused ids make no request")
}

func TestJobsList(t *testing.T) {
	t.Parallel()
	const jobsJSON = `{"type":"list","count":2,"data":[
		{"type":"job","id":"j1","created":"2024-03-01T10:00:00Z","updated":"",
		 "institution":{"type":"institution","id":"AU00000","links":{"self":"https://api.test/institutions/AU00000"}},
		 "steps":[{"title":"verify-credentials","status":"success","result":null},
		          {"title":"retrieve-accounts","status":"failed","result":{"code":"service-unavailable","title":"Unavailable"}}],
		 "links":{"self":"https://api.test/jobs/j1","source":"https://api.test/users/u1/connections/c1"}},
		{"type":"job","id":"j2","steps":[],"links":{"self":"https://api.test/jobs/j2"}}]}`

	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	var rec reqRecorder
	mt.RegisterResponder(http.MethodGet, userJobsURL, rec.wrap(jsonResp(http.StatusOK, jobsJSON)))

	jobs, err := c.Jobs.List(t.Context(), "u1", &JobFilter{ConnectionID: "c1"})
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	j := jobs[0]
	assert.Equal(t, "j1", j.ID)
	require.NotNil(t, j.Institution)
	assert.Equal(t, InstitutionRef{ID: "AU00000"}, *j.Institution)
	assert.Equal(t, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), j.Created)
	assert.True(t, j.Updated.IsZero())
	assert.Equal(t, "c1", j.ConnectionID())
	require.NotNil(t, j.Step(stAccounts))
	require.NotNil(t, j.Step(stAccounts).Result)
	assert.Equal(t, "service-unavailable", j.Step(stAccounts).Result.Code)
	assert.Nil(t, jobs[1].Institution)
	assert.Empty(t, jobs[1].ConnectionID())

	_, err = c.Jobs.List(t.Context(), "u1", nil)
	require.NoError(t, err)
	_, err = c.Jobs.List(t.Context(), "u1", &JobFilter{ConnectionID: "c1", Raw: "job.created.gt('2024-01-01')"})
	require.NoError(t, err)

	reqs := rec.all()
	require.Len(t, reqs, 3)
	assert.Equal(t, url.Values{"filter": {"connection.id.eq('c1')"}}, reqs[0].Query)
	assert.Equal(t, "connection.id.eq('c1')", reqs[0].Query.Get("filter"))
	assert.Empty(t, reqs[1].Query)
	assert.Equal(t, url.Values{"filter": {"connection.id.eq('c1'),job.created.gt('2024-01-01')"}}, reqs[2].Query)

	_, err = c.Jobs.List(t.Context(), "u1", &JobFilter{ConnectionID: "c1'"})
	assert.Equal(t, []string{"connectionId"}, validationFields(t, err))
	_, err = c.Jobs.List(t.Context(), "", nil)
	assert.Equal(t, []string{"userId"}, validationFields(t, err))
	assert.Len(t, rec.all(), 3, "refused arguments make no request")
}

// scopedTokens answers POST /token with a token named after the requested
// scope: srv-tok for SERVER_ACCESS, cli-tok for CLIENT_ACCESS.
func scopedTokens(t *testing.T) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, err
		}
		switch form.Get("scope") {
		case scopeServer:
			return tokenResponder("srv-tok", 3600)(r)
		case scopeClient:
			return tokenResponder("cli-tok", 3600)(r)
		}
		t.Errorf("token request with unexpected form %q", b)
		return jsonResp(http.StatusBadRequest, `{"type":"list","data":[{"code":"parameter-not-valid"}]}`)(r)
	}
}

func TestRespondMFA(t *testing.T) {
	t.Parallel()
	const acceptedJob = `{"type":"job","id":"j1","links":{"self":"https://api.test/jobs/j1"}}`

	t.Run("posts the answer with a client token", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		var tokens, jobs, answers reqRecorder
		mt.RegisterResponder(http.MethodPost, testBase+"/token", tokens.wrap(scopedTokens(t)))
		mt.RegisterResponder(http.MethodGet, jobURL, jobs.wrap(jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "success", ""}))))
		mt.RegisterResponder(http.MethodPost, mfaURL, answers.wrap(jsonResp(http.StatusAccepted, acceptedJob)))

		_, err := c.Jobs.Get(t.Context(), "j1")
		require.NoError(t, err)
		job, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.NoError(t, err)
		require.NotNil(t, job)
		assert.Equal(t, "j1", job.ID)
		assert.Equal(t, "https://api.test/jobs/j1", job.Links.Self)
		_, err = c.Jobs.Get(t.Context(), "j1")
		require.NoError(t, err)
		_, err = c.Jobs.RespondMFA(t.Context(), "j1", "Fluffy", "Paris")
		require.NoError(t, err)

		// Two token requests, one per scope; both tokens are cached.
		tokReqs := tokens.all()
		require.Len(t, tokReqs, 2, "one token per scope, each fetched once")
		form0, err := url.ParseQuery(tokReqs[0].Body)
		require.NoError(t, err)
		form1, err := url.ParseQuery(tokReqs[1].Body)
		require.NoError(t, err)
		assert.Equal(t, url.Values{"scope": {scopeServer}}, form0)
		assert.Equal(t, url.Values{"scope": {scopeClient}}, form1)
		for _, r := range tokReqs {
			assert.Equal(t, "Basic "+testKey, r.Auth)
			assert.Equal(t, "application/x-www-form-urlencoded", r.ContentType)
		}

		ans := answers.all()
		require.Len(t, ans, 2)
		for _, r := range ans {
			assert.Equal(t, "/jobs/j1/mfa", r.Path)
			assert.Equal(t, "Bearer cli-tok", r.Auth, "the answer goes with the client token")
			assert.NotEqual(t, "Bearer srv-tok", r.Auth, "never with the server token")
			assert.Equal(t, "application/json", r.ContentType)
		}
		assert.JSONEq(t, `{"mfa-response":["1234"]}`, ans[0].Body)
		assert.JSONEq(t, `{"mfa-response":["Fluffy","Paris"]}`, ans[1].Body)

		gets := jobs.all()
		require.Len(t, gets, 4, "two reads, and one before each answer to know the challenge answered")
		for _, r := range gets {
			assert.Equal(t, "Bearer srv-tok", r.Auth, "other calls keep the server token")
		}
	})

	t.Run("each scope's token fetched once, the server's for reads", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		var tokens, jobs reqRecorder
		mt.RegisterResponder(http.MethodPost, testBase+"/token", tokens.wrap(scopedTokens(t)))
		mt.RegisterResponder(http.MethodGet, jobURL, jobs.wrap(jsonResp(http.StatusOK, jobBody(t, "j1", stepSpec{stVerify, "success", ""}))))
		mt.RegisterResponder(http.MethodPost, mfaURL, jsonResp(http.StatusAccepted, acceptedJob))

		_, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.NoError(t, err)
		_, err = c.Jobs.Get(t.Context(), "j1")
		require.NoError(t, err)
		_, err = c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.NoError(t, err)

		tokReqs := tokens.all()
		require.Len(t, tokReqs, 2)
		assert.Equal(t, "scope="+scopeServer, tokReqs[0].Body, "RespondMFA reads the job first")
		assert.Equal(t, "scope="+scopeClient, tokReqs[1].Body)
		require.Len(t, jobs.all(), 3)
		for _, r := range jobs.all() {
			assert.Equal(t, "Bearer srv-tok", r.Auth)
		}
	})

	t.Run("an accepted answer that names no job is an invalid response", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, mfaURL, jsonResp(http.StatusAccepted, `{"type":"job"}`))
		job, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.ErrorIs(t, err, ErrInvalidResponse)
		assert.Nil(t, job)
	})

	t.Run("not retried on 503", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, mfaURL,
			jsonResp(http.StatusServiceUnavailable, connErr503).Then(jsonResp(http.StatusAccepted, acceptedJob)))
		job, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		assert.Nil(t, job)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
		assert.Equal(t, 1, calls(mt, postMFAKey), "a one-time code is never sent twice")
	})

	t.Run("not retried on a network error", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, mfaURL, httpmock.NewErrorResponder(errors.New("connection reset by peer")))
		_, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.Error(t, err)
		assert.Equal(t, 1, calls(mt, postMFAKey))
	})

	t.Run("empty answers refused without I/O", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		tests := []struct {
			jobID      string
			answers    []string
			wantFields []string
		}{
			{"j1", nil, []string{"mfa-response"}},
			{"j1", []string{""}, []string{"mfa-response"}},
			{"j1", []string{" \t"}, []string{"mfa-response"}},
			{"j1", []string{"1234", ""}, []string{"mfa-response"}},
			{"", []string{"1234"}, []string{"jobId"}},
			{"..", nil, []string{"jobId", "mfa-response"}},
		}
		for _, tc := range tests {
			job, err := c.Jobs.RespondMFA(t.Context(), tc.jobID, tc.answers...)
			assert.Nil(t, job)
			assert.Equal(t, tc.wantFields, validationFields(t, err), "%q %q", tc.jobID, tc.answers)
		}
		assert.Equal(t, 0, mt.GetTotalCallCount(), "no token request, no POST: %v", mt.GetCallCountInfo())
	})

	t.Run("the answer is never in errors or logs", func(t *testing.T) {
		t.Parallel()
		failures := map[string]httpmock.Responder{
			"500 JSON": jsonResp(http.StatusInternalServerError,
				`{"type":"list","correlationId":"c500","data":[{"code":"internal-server-error","title":"Internal Server Error","detail":"boom"}]}`),
			"400 HTML":      httpmock.NewStringResponder(http.StatusBadRequest, "<html><body>Bad Request</body></html>"),
			"network error": httpmock.NewErrorResponder(errors.New("connection reset by peer")),
			"bad 2xx body":  jsonResp(http.StatusAccepted, `{"type":"job",`),
		}
		for name, fail := range failures {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var (
					buf bytes.Buffer
					mu  sync.Mutex
				)
				logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
				c, mt := newMockClient(t, WithLogger(logger))
				mt.RegisterResponder(http.MethodPost, testBase+"/token", scopedTokens(t))
				mt.RegisterResponder(http.MethodPost, mfaURL, fail)

				job, err := c.Jobs.RespondMFA(t.Context(), "j1", mfaCode, mfaCode+"-second")
				assert.Nil(t, job)
				require.Error(t, err)
				assert.NotContains(t, err.Error(), mfaCode)
				assert.NotContains(t, fmt.Sprintf("%+v", err), mfaCode)
				assert.Equal(t, 1, calls(mt, postMFAKey))

				mu.Lock()
				defer mu.Unlock()
				out := buf.String()
				assert.Contains(t, out, "/jobs/j1/mfa", "the debug log records the request")
				assert.NotContains(t, out, mfaCode)
				assert.NotContains(t, out, "cli-tok")
				assert.NotContains(t, out, testKey)
			})
		}
	})
}

func TestWaitForJobReturnsMFAChallenge(t *testing.T) {
	t.Parallel()
	const questions = `{"type":"mfa","method":"security-questions","description":"Answer your security questions",
		"input":["What is your pet's name?",{"question":"City of birth?"},{"label":"Favourite colour?"}],
		"expiryMs":120000,"links":{"response":"https://api.test/jobs/j1/mfa"}}`
	tests := []struct {
		name   string
		result string
		want   MFAChallenge
	}{
		{
			name:   "security questions",
			result: questions,
			want: MFAChallenge{
				JobID: "j1", Step: stMFA, Method: "security-questions", Description: "Answer your security questions",
				Questions:   []string{"What is your pet's name?", "City of birth?", "Favourite colour?"},
				Expiry:      2 * time.Minute,
				ResponseURL: "https://api.test/jobs/j1/mfa",
			},
		},
		{
			name:   "one-time code in an array result",
			result: `[{"type":"mfa","method":"token","description":"Enter the code we sent","input":["One-time code"],"expiryMs":90000.0,"links":{"response":"/jobs/j1/mfa"}}]`,
			want: MFAChallenge{
				JobID: "j1", Step: stMFA, Method: "token", Description: "Enter the code we sent",
				Questions: []string{"One-time code"}, Expiry: 90 * time.Second, ResponseURL: "/jobs/j1/mfa",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			failOnUnexpected(t, mt)
			mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(
				jobBody(t, "j1", stepSpec{stVerify, "in-progress", ""}, stepSpec{stMFA, "pending", ""}, stepSpec{stAccounts, "pending", ""}),
				jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "in-progress", tc.result}, stepSpec{stAccounts, "pending", ""}),
			))

			job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
			require.ErrorIs(t, err, ErrMFARequired)
			assert.NotErrorIs(t, err, ErrJobFailed)
			var ch *MFAChallenge
			require.ErrorAs(t, err, &ch)
			assert.Equal(t, tc.want, *ch)
			require.NotNil(t, job, "the last job seen comes back beside the challenge")
			assert.Equal(t, StepInProgress, job.Step(stMFA).Status)
			assert.Equal(t, 2, calls(mt, getJobKey))
			assert.Contains(t, ch.Error(), "j1")
			assert.Contains(t, ch.Error(), ch.Description)
		})
	}
}

func TestMFAFlowWaitAnswerWait(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	failOnUnexpected(t, mt)
	var tokens, answers reqRecorder
	mt.RegisterResponder(http.MethodPost, testBase+"/token", tokens.wrap(scopedTokens(t)))

	challenge := `{"type":"mfa","method":"token","description":"Enter the code","input":["Code"],"expiryMs":60000,"links":{"response":"https://api.test/jobs/j1/mfa"}}`
	waiting := jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "in-progress", challenge},
		stepSpec{stAccounts, "pending", ""}, stepSpec{stTransactions, "pending", ""})
	afterAnswer := []string{
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""},
			stepSpec{stAccounts, "in-progress", ""}, stepSpec{stTransactions, "pending", ""}),
		jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "success", ""},
			stepSpec{stAccounts, "success", `{"type":"link","url":"/users/u1/accounts"}`}, stepSpec{stTransactions, "success", ""}),
	}
	var (
		answered  atomic.Bool
		pollsSeen atomic.Int32
		getAuth   sync.Map
	)
	mt.RegisterResponder(http.MethodGet, jobURL, func(r *http.Request) (*http.Response, error) {
		getAuth.Store(r.Header.Get("Authorization"), true)
		if !answered.Load() {
			return jsonResp(http.StatusOK, waiting)(r)
		}
		i := min(int(pollsSeen.Add(1))-1, len(afterAnswer)-1)
		return jsonResp(http.StatusOK, afterAnswer[i])(r)
	})
	// The answer's own body is the job as it was: still waiting on the
	// challenge. Waiting again must not stop on that stale step.
	mt.RegisterResponder(http.MethodPost, mfaURL, answers.wrap(func(r *http.Request) (*http.Response, error) {
		answered.Store(true)
		return jsonResp(http.StatusAccepted, waiting)(r)
	}))

	ctx := waitCtx(t)
	start := &Job{ID: "j1", Links: JobLinks{Self: "https://api.test/jobs/j1"}}
	job, err := c.WaitForJob(ctx, start, fastPoll)
	var ch *MFAChallenge
	require.ErrorAs(t, err, &ch)
	assert.Equal(t, "j1", ch.JobID)
	assert.Equal(t, []string{"Code"}, ch.Questions)
	assert.Equal(t, time.Minute, ch.Expiry)
	require.NotNil(t, job)

	job, err = c.Jobs.RespondMFA(ctx, ch.JobID, "1234")
	require.NoError(t, err)
	require.NotNil(t, job)

	job, err = c.WaitForJob(ctx, job, fastPoll)
	require.NoError(t, err)
	require.NotNil(t, job)
	assert.Equal(t, []string{stVerify + "=success", stMFA + "=success", stAccounts + "=success", stTransactions + "=success"}, statuses(job))
	assert.Equal(t, int32(2), pollsSeen.Load(), "two polls after the answer")

	ans := answers.all()
	require.Len(t, ans, 1, "answered once")
	assert.JSONEq(t, `{"mfa-response":["1234"]}`, ans[0].Body)
	assert.Equal(t, "Bearer cli-tok", ans[0].Auth)
	require.Len(t, tokens.all(), 2, "one server and one client token")

	var auths []string
	getAuth.Range(func(k, _ any) bool { auths = append(auths, k.(string)); return true })
	assert.Equal(t, []string{"Bearer srv-tok"}, auths, "every poll uses the server token")
}

func TestInstitutionsList(t *testing.T) {
	t.Parallel()
	const listJSON = `{"type":"list","totalCount":2,"data":[` + hooliJSON + `,
		{"type":"institution","id":"AU00001","name":"Hooli Bank MFA","tier":4,"authorization":"user-mfa","status":"operational",
		 "stats":{"averageDurationMs":{"verifyCredentials":1500,"total":9000.5}}}]}`

	t.Run("authorization filter", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		var rec reqRecorder
		mt.RegisterResponder(http.MethodGet, institutionsURL, rec.wrap(jsonResp(http.StatusOK, listJSON)))

		insts, err := c.Institutions.List(t.Context(), &InstitutionFilter{Authorization: []AuthorizationType{AuthUser, AuthUserMFA}})
		require.NoError(t, err)
		require.Len(t, insts, 2)
		assert.Equal(t, "AU00000", insts[0].ID)
		assert.Equal(t, AuthUser, insts[0].Authorization)
		assert.Equal(t, "AU00001", insts[1].ID)
		assert.Equal(t, AuthUserMFA, insts[1].Authorization)
		assert.Equal(t, "4", insts[1].Tier, "a numeric tier is read as its digits")
		require.NotNil(t, insts[1].Stats)
		require.NotNil(t, insts[1].Stats.AverageDurationMs)
		assert.Equal(t, 9000.5, insts[1].Stats.AverageDurationMs.Total)

		reqs := rec.all()
		require.Len(t, reqs, 1)
		assert.Equal(t, "/institutions", reqs[0].Path)
		assert.Equal(t, url.Values{"filter": {"institution.authorization.in('user','user-mfa')"}}, reqs[0].Query)
	})

	t.Run("other filters", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		var rec reqRecorder
		mt.RegisterResponder(http.MethodGet, institutionsURL, rec.wrap(jsonResp(http.StatusOK, `{"type":"list","data":[]}`)))
		for _, f := range []*InstitutionFilter{
			nil,
			{},
			{ID: "AU00000", Raw: "institution.stage.eq('live')"},
			{Authorization: []AuthorizationType{AuthToken}},
		} {
			_, err := c.Institutions.List(t.Context(), f)
			require.NoError(t, err)
		}
		reqs := rec.all()
		require.Len(t, reqs, 4)
		assert.Empty(t, reqs[0].Query)
		assert.Empty(t, reqs[1].Query)
		assert.Equal(t, url.Values{"filter": {"institution.id.eq('AU00000'),institution.stage.eq('live')"}}, reqs[2].Query)
		assert.Equal(t, url.Values{"filter": {"institution.authorization.in('token')"}}, reqs[3].Query)

		_, err := c.Institutions.List(t.Context(), &InstitutionFilter{Authorization: []AuthorizationType{"user'),institution.id.eq('x"}})
		assert.Equal(t, []string{"authorization"}, validationFields(t, err))
		assert.Len(t, rec.all(), 4, "a refused filter makes no request")
	})

	t.Run("fills the cache Create reads", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		failOnUnexpected(t, mt)
		withToken := strings.Replace(listJSON, `]}`, `,{"type":"institution","id":"AU19301","name":"Token Bank","authorization":"token"}]}`, 1)
		mt.RegisterResponder(http.MethodGet, institutionsURL, jsonResp(http.StatusOK, withToken))
		for _, id := range []string{"AU00000", "AU00001", "AU19301"} {
			mt.RegisterResponder(http.MethodGet, testBase+"/institutions/"+id, jsonResp(http.StatusOK, hooliJSON))
		}
		mt.RegisterResponder(http.MethodPost, connPostURL, jsonResp(http.StatusAccepted, connJobJSON))

		insts, err := c.Institutions.List(t.Context(), nil)
		require.NoError(t, err)
		require.Len(t, insts, 3)

		for _, id := range []string{"AU00000", "AU00001"} {
			job, err := c.Connections.Create(t.Context(), "u1", ConnectionParams{
				LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: id},
			})
			require.NoError(t, err, id)
			assert.Equal(t, "61723", job.ID)
		}
		// The listed token institution's rules apply without a fetch.
		_, err = c.Connections.Create(t.Context(), "u1", ConnectionParams{
			LoginID: "gavinBelson", Password: secretPassword, Institution: InstitutionRef{ID: "AU19301"},
		})
		assert.ElementsMatch(t, []string{"userToken", "loginId", "password"}, validationFields(t, err))

		for _, id := range []string{"AU00000", "AU00001", "AU19301"} {
			assert.Equal(t, 0, calls(mt, "GET "+testBase+"/institutions/"+id), "%s was listed: not fetched again", id)
		}
		assert.Equal(t, 2, calls(mt, postConnKey))
	})

	t.Run("error", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodGet, institutionsURL, jsonResp(http.StatusUnauthorized,
			`{"type":"list","data":[{"code":"unauthorized-access","title":"Unauthorized"}]}`))
		insts, err := c.Institutions.List(t.Context(), nil)
		assert.Nil(t, insts)
		require.ErrorIs(t, err, ErrUnauthorized)
	})
}

func TestWaitAfterAnswerSkipsTheAnsweredChallengeOnly(t *testing.T) {
	t.Parallel()
	first := `{"type":"mfa","method":"token","description":"Enter the code","input":["Code"]}`
	second := `{"type":"mfa","method":"security-questions","description":"Answer the question","input":["Pet's name"]}`
	waitingOn := func(result string) string {
		return jobBody(t, "j1", stepSpec{stVerify, "success", ""}, stepSpec{stMFA, "in-progress", result}, stepSpec{stAccounts, "pending", ""})
	}
	noChallenge := waitingOn("")
	cases := []struct {
		name  string
		polls []string // after the answer
		want  string   // method of the challenge reported next
		gets  int      // polls after the answer
	}{
		{"the answered one is polled past", []string{waitingOn(first), waitingOn(first), waitingOn(second)}, "security-questions", 3},
		{"the same prompt again after it went away is new", []string{waitingOn(first), noChallenge, waitingOn(first)}, "token", 3},
		{"a new one at once", []string{waitingOn(second)}, "security-questions", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(http.MethodPost, testBase+"/token", scopedTokens(t))
			var version string
			mt.RegisterResponder(http.MethodPost, mfaURL, func(r *http.Request) (*http.Response, error) {
				version = r.Header.Get("basiq-version")
				return jsonResp(http.StatusAccepted, `{"type":"job","id":"j1"}`)(r)
			})
			// The first wait's poll, then RespondMFA's read, then the polls.
			mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(append([]string{waitingOn(first), waitingOn(first)}, tc.polls...)...))

			job, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
			require.ErrorIs(t, err, ErrMFARequired)
			job, err = c.Jobs.RespondMFA(t.Context(), job.ID, "1234")
			require.NoError(t, err)
			assert.Equal(t, mfaVersion, version, "the MFA endpoint needs 2.1 even when the client is set to 2.0")

			_, err = c.WaitForJob(waitCtx(t), job, fastPoll)
			var ch *MFAChallenge
			require.ErrorAs(t, err, &ch)
			assert.Equal(t, tc.want, ch.Method)
			assert.Equal(t, 2+tc.gets, calls(mt, getJobKey))
		})
	}

	t.Run("remembered across waits", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t)
		mt.RegisterResponder(http.MethodPost, testBase+"/token", scopedTokens(t))
		mt.RegisterResponder(http.MethodPost, mfaURL, jsonResp(http.StatusAccepted, `{"type":"job","id":"j1"}`))
		mt.RegisterResponder(http.MethodGet, jobURL, jobSequence(waitingOn(first), waitingOn(first), waitingOn(first), waitingOn(first), waitingOn(second)))
		_, err := c.WaitForJob(waitCtx(t), &Job{ID: "j1"}, fastPoll)
		require.ErrorIs(t, err, ErrMFARequired)
		job, err := c.Jobs.RespondMFA(t.Context(), "j1", "1234")
		require.NoError(t, err)
		// A wait cut short after a poll (its context ends), then a second
		// wait on the job it returned: the answered challenge travels on
		// the job and is still not reported.
		ctx, cancel := context.WithCancel(t.Context())
		job, err = c.WaitForJob(ctx, job, fastPoll, WithProgress(func(*Job) { cancel() }))
		require.ErrorIs(t, err, context.Canceled)
		_, err = c.WaitForJob(waitCtx(t), job, fastPoll)
		var ch *MFAChallenge
		require.ErrorAs(t, err, &ch)
		assert.Equal(t, "security-questions", ch.Method)
	})
}
