package basiqtest

import (
	"net/http"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventTypesOf lists entity.eventType of each event.
func eventTypesOf(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = str(it, "entity") + "." + str(it, "eventType")
	}
	return out
}

func TestEventsRecordWhatHappens(t *testing.T) {
	srv, c := startServer(t)
	uid := c.createUser("a@hooli.example")
	other := c.createUser("b@hooli.example")
	consentID := srv.AddConsent(uid)
	jobID := c.connectLogin(uid, InstHooli, LoginGavinBelson, PasswordGavinBelson)
	connID := c.wait(jobID).connID()
	require.Equal(t, http.StatusNoContent, c.del("/users/"+uid+"/consents/"+consentID).status)

	mine := list(t, c.get("/events?"+url.Values{"filter": {"user.id.eq('" + uid + "')"}}.Encode()))
	assert.Equal(t, []string{"user.created", "consent.created", "connection.created", "transactions.updated",
		"connection.activated", "consent.revoked", "connection.deleted"}, eventTypesOf(mine))
	for _, e := range mine {
		assert.Equal(t, uid, str(e, "userId"))
		assert.Equal(t, "event", str(e, "type"))
		assert.NotEmpty(t, str(e, "createdDate"))
		assert.Equal(t, srv.URL+"/events/"+str(e, "id"), str(e, "links", "self"))
	}
	assert.Equal(t, srv.URL+"/users/"+uid+"/connections/"+connID, str(mine[2], "dataRef"))

	byType := list(t, c.get("/events?"+url.Values{"filter": {"event.type.eq('user.created')"}}.Encode()))
	assert.ElementsMatch(t, []string{uid, other}, []string{str(byType[0], "userId"), str(byType[1], "userId")})
	byEntity := list(t, c.get("/events?"+url.Values{"filter": {"event.entity.eq('consent'),user.id.eq('" + uid + "')"}}.Encode()))
	assert.Equal(t, []string{"consent.created", "consent.revoked"}, eventTypesOf(byEntity))
	c.get("/events?filter=nope.eq('x')").errBody(t, http.StatusBadRequest, "parameter-not-valid")

	one := c.get("/events/" + str(mine[0], "id"))
	require.Equal(t, http.StatusOK, one.status)
	assert.Equal(t, str(mine[0], "id"), str(one.obj(t), "id"))
	c.get("/events/nope").errBody(t, http.StatusNotFound, "resource-not-found")

	types := list(t, c.get("/events/types"))
	assert.Contains(t, ids(types), "consent.revoked")
	assert.Contains(t, ids(types), "transactions.updated")
}

func TestEventsAreKeptSevenDays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, c := inProcessServer(t, WithTokenLifetime(30*24*time.Hour))
		c.createUser("a@hooli.example")
		time.Sleep(7*24*time.Hour - time.Second)
		assert.Len(t, list(t, c.get("/events")), 1)
		time.Sleep(time.Second)
		assert.Empty(t, list(t, c.get("/events")))
	})
}
