package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// EventsService reads the events Basiq records for what happens to users,
// connections and consents (API version 3.0; kept 7 days).
type EventsService service

// Event is something that happened, as GET /events/{id} answers.
type Event struct {
	ID string `json:"id"`
	// Entity is what the event is about: "user", "connection", "consent",
	// "account", "transactions"...
	Entity string `json:"entity"`
	// EventType is what happened to it: "created", "updated", "deleted",
	// "revoked", "expired"... (the event type is Entity + "." + EventType,
	// such as "connection.created").
	EventType string `json:"eventType"`
	// UserID is the user concerned.
	UserID string `json:"userId"`
	// CreatedDate is zero when the API does not give it.
	CreatedDate time.Time `json:"createdDate"`
	// DataRef is the URL of the resource the event is about.
	DataRef string `json:"dataRef,omitempty"`
	// Data is the resource as it was, kept as the API sent it.
	Data  json.RawMessage `json:"data,omitempty"`
	Links Links           `json:"links"`
}

// UnmarshalJSON reads the timestamp leniently and links given as an object
// or, as one of Basiq's examples writes them, a list of one.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var raw struct {
		plain
		CreatedDate lenientTime     `json:"createdDate"`
		Links       json.RawMessage `json:"links"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Event(raw.plain)
	e.CreatedDate = raw.CreatedDate.Time
	e.Links = Links{}
	if l := bytes.TrimSpace(raw.Links); len(l) > 0 {
		if l[0] == '[' {
			var list []Links
			if json.Unmarshal(l, &list) == nil && len(list) > 0 {
				e.Links = list[0]
			}
		} else {
			_ = json.Unmarshal(l, &e.Links) // an odd shape leaves no links
		}
	}
	return nil
}

func (x *Event) resourceID() string { return x.ID }

// EventFilter narrows [EventsService.List]. Conditions are joined with AND;
// empty fields are left out. Values are quoted, and a value holding a quote
// or a control character is refused.
type EventFilter struct {
	// UserID keeps one user's events (user.id).
	UserID string
	// Entity keeps events about one kind of resource (event.entity), such
	// as "connection".
	Entity string
	// Type keeps one kind of event (event.type), such as
	// "connection.created".
	Type string
	// Raw is a filter in Basiq's grammar, appended unchanged.
	Raw string
}

// query returns the filter's query values; a nil filter has none.
func (f *EventFilter) query() (url.Values, error) {
	var b filterBuilder
	if f != nil {
		b.eq("userId", "user.id", f.UserID)
		b.eq("entity", "event.entity", f.Entity)
		b.eq("type", "event.type", f.Type)
		b.raw(f.Raw)
	}
	return b.query(0, 0)
}

// List yields the events of the last 7 days: GET /events, narrowed by f
// (nil for all), fetching each further page only when the loop reaches it.
// A filter value that is refused ends the loop at once with a
// *ValidationError, before any request.
func (s *EventsService) List(ctx context.Context, f *EventFilter) iter.Seq2[Event, error] {
	q, err := f.query()
	if err != nil {
		return func(yield func(Event, error) bool) { yield(Event{}, err) }
	}
	return paginate[Event](ctx, s.client, withQuery("events", q))
}

// Get returns one event: GET /events/{id}. It is how a webhook
// notification is read: the notification names the event
// (webhook.Notification.EventID, the id at the end of its Links.Event) and
// carries no data itself.
func (s *EventsService) Get(ctx context.Context, eventID string) (*Event, error) {
	if err := checkID("eventId", eventID); err != nil {
		return nil, err
	}
	ev := new(Event)
	if _, err := s.client.call(ctx, http.MethodGet, pathf("events/%s", eventID), nil, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// EventType is a kind of event Basiq records, as GET /events/types lists
// it.
type EventType struct {
	// ID names the kind, such as "connection.created"; it is the value of
	// [EventFilter.Type].
	ID          string `json:"id"`
	Description string `json:"description"`
	Links       Links  `json:"links"`
}

func (x *EventType) resourceID() string { return x.ID }

// Types lists the kinds of event Basiq records: GET /events/types.
func (s *EventsService) Types(ctx context.Context) ([]EventType, error) {
	return listAll[EventType](ctx, s.client, "events/types", nil)
}
