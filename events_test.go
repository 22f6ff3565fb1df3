package basiq

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventsGetDecodesBasiqsExample(t *testing.T) {
	t.Parallel()
	body := specExample(t, "v3/core.yml", "/events/{id}", "get", "200", "Success")
	c, mt := newMockClient(t, WithVersion("3.0"))
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusOK, string(body))))

	ev, err := c.Events.Get(context.Background(), "5a47115a")
	require.NoError(t, err)
	assert.Equal(t, "5a47115a7eed80a3b68761b725b78c75892e94cef06810ecc0e2e7b856738371", ev.ID)
	assert.Equal(t, "connection", ev.Entity)
	assert.Equal(t, "updated", ev.EventType)
	assert.Equal(t, "84e33255-f65f-4f05-953b-1b12e1e4d90b", ev.UserID)
	assert.Equal(t, time.Date(2024, 4, 17, 23, 57, 17, 0, time.UTC), ev.CreatedDate.UTC())
	assert.Contains(t, ev.DataRef, "/connections/8bd4f752-c218-4e41-af28-0c42ae982d35")
	var conn Connection
	require.NoError(t, conn.UnmarshalJSON(ev.Data), "the event's data is the connection as it was")
	assert.Equal(t, ConnectionActive, conn.Status)

	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodGet, reqs[0].Method)
	assert.Equal(t, "/events/5a47115a", reqs[0].Path)
}

func TestEventsGet(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusOK,
		`{"type":"event","id":"e1","entity":"consent","eventType":"revoked","userId":"u1","createdDate":"2019-07-29T07:34:09Z",
		  "links":[{"self":"https://au-api.basiq.io/events/e1"}]}`)))
	ev, err := c.Events.Get(context.Background(), "e/1")
	require.NoError(t, err)
	assert.Equal(t, "https://au-api.basiq.io/events/e1", ev.Links.Self, "links given as a list of one, as Basiq's schema example writes them")
	assert.Equal(t, "/events/e%2F1", rec.all()[0].Path)

	_, err = c.Events.Get(context.Background(), "..")
	assert.Equal(t, []string{"eventId"}, validationFields(t, err))
	assert.Len(t, rec.all(), 1)

	mt.RegisterResponder(http.MethodGet, testBase+"/events/none", jsonResp(200, `{"type":"event"}`))
	_, err = c.Events.Get(context.Background(), "none")
	assert.ErrorIs(t, err, ErrInvalidResponse)
}

func TestEventsListPagesLazilyWithItsFilter(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	var rec reqRecorder
	page := func(ids []string, next string) string {
		s := `{"type":"list","data":[`
		for i, id := range ids {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf(`{"type":"event","id":%q,"entity":"connection","eventType":"created","userId":"u1"}`, id)
		}
		s += `],"links":{"self":"x"`
		if next != "" {
			s += `,"next":` + fmt.Sprintf("%q", next)
		}
		return s + `}}`
	}
	mt.RegisterResponder(http.MethodGet, testBase+"/events", rec.wrap(jsonResp(200, page([]string{"e1", "e2"}, testBase+"/events?page=2"))))
	mt.RegisterResponderWithQuery(http.MethodGet, testBase+"/events", "page=2", rec.wrap(jsonResp(200, page([]string{"e3"}, ""))))

	var ids []string
	for ev, err := range c.Events.List(context.Background(), &EventFilter{UserID: "u1", Entity: "connection", Type: "connection.created"}) {
		require.NoError(t, err)
		ids = append(ids, ev.ID)
		if ev.ID == "e1" {
			assert.Len(t, rec.all(), 1, "the second page is fetched only when the loop reaches it")
		}
	}
	assert.Equal(t, []string{"e1", "e2", "e3"}, ids)
	reqs := rec.all()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/events", reqs[0].Path)
	assert.Equal(t, "user.id.eq('u1'),event.entity.eq('connection'),event.type.eq('connection.created')", reqs[0].Query.Get("filter"))

	for ev, err := range c.Events.List(context.Background(), nil) {
		require.NoError(t, err)
		_ = ev
		break
	}
	assert.Empty(t, rec.all()[2].Query, "no filter, no query")
}

func TestEventsListRefusesABadFilterBeforeIO(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithVersion("3.0"))
	n := 0
	for _, err := range c.Events.List(context.Background(), &EventFilter{UserID: "u1')", Type: "a\nb"}) {
		n++
		assert.Equal(t, []string{"userId", "type"}, validationFields(t, err))
	}
	assert.Equal(t, 1, n)
	assert.Zero(t, mt.GetTotalCallCount())
}

func TestEventsTypesDecodesBasiqsExample(t *testing.T) {
	t.Parallel()
	body := specExample(t, "v3/core.yml", "/events/types", "get", "200", "Success")
	c, mt := newMockClient(t, WithVersion("3.0"))
	var rec reqRecorder
	mt.RegisterNoResponder(rec.wrap(jsonResp(http.StatusOK, string(body))))
	types, err := c.Events.Types(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, types)
	assert.Equal(t, "account.updated", types[0].ID)
	assert.Equal(t, "when an account is updated", types[0].Description)
	assert.Equal(t, "https://au-api.basiq.io/events/types/account.updated", types[0].Links.Self)
	reqs := rec.all()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodGet, reqs[0].Method)
	assert.Equal(t, "/events/types", reqs[0].Path)
}
