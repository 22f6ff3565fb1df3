package basiqtest

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// eventRetention is how long events are kept, as Basiq keeps them.
const eventRetention = 7 * 24 * time.Hour

// event is something that happened, as GET /events reports it.
type event struct {
	id, entity, eventType, userID string
	dataRef                       string // a path on the server
	created                       time.Time
	seq                           int64
}

// eventTypes are the event types the server records, with their
// descriptions, as GET /events/types lists them.
var eventTypes = []struct{ id, description string }{
	{"user.created", "A user was created"},
	{"user.updated", "A user was updated"},
	{"user.deleted", "A user was deleted"},
	{"connection.created", "A connection was created"},
	{"connection.activated", "A connection's job succeeded and the connection is active"},
	{"connection.invalidated", "A connection's credentials were refused"},
	{"connection.deleted", "A connection was deleted"},
	{"consent.created", "A consent was created"},
	{"consent.revoked", "A consent was revoked"},
	{"transactions.updated", "A connection's transactions were retrieved"},
}

// emit records an event and notifies the webhooks that want it; s.mu must
// be held.
func (s *Server) emit(at time.Time, entity, eventType, userID, dataRef string) {
	// Events come in time order: drop the expired ones at the front, so a
	// long run keeps 7 days of them at most.
	for len(s.events) > 0 && at.Sub(s.events[0].created) >= eventRetention {
		s.events = s.events[1:]
	}
	s.seq++
	e := &event{id: s.newID(), entity: entity, eventType: eventType, userID: userID, dataRef: dataRef, created: at, seq: s.seq}
	s.events = append(s.events, e)
	s.notify(e)
}

// eventJSON is the wire form of an event.
type eventJSON struct {
	Type        string    `json:"type"`
	ID          string    `json:"id"`
	CreatedDate string    `json:"createdDate"`
	Entity      string    `json:"entity"`
	EventType   string    `json:"eventType"`
	UserID      string    `json:"userId"`
	DataRef     string    `json:"dataRef"`
	Links       selfLinks `json:"links"`
}

func eventView(c *call, e *event) eventJSON {
	return eventJSON{Type: "event", ID: e.id, CreatedDate: timestamp(e.created), Entity: e.entity,
		EventType: e.eventType, UserID: e.userID, DataRef: c.base + e.dataRef,
		Links: selfLinks{Self: c.base + "/events/" + e.id}}
}

// eventFields are the fields GET /events filters on.
var eventFields = fieldSet[*event]{
	"user.id":      func(e *event) (string, bool) { return e.userID, true },
	"event.entity": func(e *event) (string, bool) { return e.entity, true },
	"event.type":   func(e *event) (string, bool) { return e.entity + "." + e.eventType, true },
	"event.id":     func(e *event) (string, bool) { return e.id, true },
}

// keptEvents drops the events older than the retention; s.mu must be held.
func (s *Server) keptEvents(now time.Time) []*event {
	s.events = slices.DeleteFunc(s.events, func(e *event) bool { return now.Sub(e.created) >= eventRetention })
	return s.events
}

// listEvents is GET /events, oldest first.
func (s *Server) listEvents(c *call) reply {
	match, r, bad := parseFilterParam(c, eventFields)
	if bad {
		return r
	}
	evs := slices.Clone(s.keptEvents(c.now))
	slices.SortStableFunc(evs, func(a, b *event) int { return cmp.Compare(a.seq, b.seq) })
	data := []eventJSON{}
	for _, e := range evs {
		if match(e) {
			data = append(data, eventView(c, e))
		}
	}
	return answer(http.StatusOK, listJSON[eventJSON]{Type: "list", Count: len(data), Data: data,
		Links: &listLinks{Self: c.base + c.r.URL.RequestURI()}})
}

// getEvent is GET /events/{id}.
func (s *Server) getEvent(c *call) reply {
	for _, e := range s.keptEvents(c.now) {
		if e.id == c.pv("id") {
			return answer(http.StatusOK, eventView(c, e))
		}
	}
	return fail(errNotFound("Event not found: " + c.pv("id")))
}

// eventTypeJSON is the wire form of an event type.
type eventTypeJSON struct {
	Type        string    `json:"type"`
	ID          string    `json:"id"`
	Description string    `json:"description"`
	Links       selfLinks `json:"links"`
}

// listEventTypes is GET /events/types.
func (s *Server) listEventTypes(c *call) reply {
	data := make([]eventTypeJSON, 0, len(eventTypes))
	for _, t := range eventTypes {
		data = append(data, eventTypeJSON{Type: "eventType", ID: t.id, Description: t.description,
			Links: selfLinks{Self: c.base + "/events/types/" + t.id}})
	}
	return answer(http.StatusOK, listJSON[eventTypeJSON]{Type: "list", Count: len(data), Data: data,
		Links: &listLinks{Self: c.base + "/events/types"}})
}
