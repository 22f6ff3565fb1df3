package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// InstitutionsService reads institutions: the banks and other providers a user
// can connect to.
type InstitutionsService service

// AuthorizationType says which credentials an institution takes when a
// connection is created.
type AuthorizationType string

// The authorization types the API documents.
const (
	// AuthUser: login id and password.
	AuthUser AuthorizationType = "user"
	// AuthUserMFA: login id and password, and an MFA challenge always follows.
	AuthUserMFA AuthorizationType = "user-mfa"
	// AuthUserMFAIntermittent: login id and password; an MFA challenge sometimes follows.
	AuthUserMFAIntermittent AuthorizationType = "user-mfa-intermittent"
	// AuthToken: a user token instead of login credentials.
	AuthToken AuthorizationType = "token"
	// AuthUserToken is the spelling of [AuthToken] some API pages use.
	AuthUserToken AuthorizationType = "user-token"
	// AuthOther: cannot be connected through POST /users/{id}/connections.
	AuthOther AuthorizationType = "other"
)

// authorizationTypes are the authorization types a filter accepts.
var authorizationTypes = []AuthorizationType{AuthUser, AuthUserMFA, AuthUserMFAIntermittent, AuthToken, AuthUserToken, AuthOther}

// UsesLogin reports whether the institution takes a login id and password.
func (a AuthorizationType) UsesLogin() bool {
	return a == AuthUser || a == AuthUserMFA || a == AuthUserMFAIntermittent
}

// UsesToken reports whether the institution takes a user token.
func (a AuthorizationType) UsesToken() bool {
	return a == AuthToken || a == AuthUserToken
}

// MayAskMFA reports whether connecting may meet an MFA challenge.
func (a AuthorizationType) MayAskMFA() bool {
	return a == AuthUserMFA || a == AuthUserMFAIntermittent
}

// Institution is a bank or other provider, as GET /institutions/{id} answers.
type Institution struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	ShortName       string `json:"shortName"`
	InstitutionType string `json:"institutionType"`
	Country         string `json:"country"`
	ServiceName     string `json:"serviceName"`
	ServiceType     string `json:"serviceType"`
	// Tier is "1" to "4"; a number in the answer is read as its digits.
	Tier string `json:"tier"`
	// Authorization says which credentials [ConnectionsService.Create] needs.
	Authorization AuthorizationType `json:"authorization"`
	// Stage is "live", "beta" or "alpha".
	Stage string `json:"stage"`
	// Status is "operational", "degraded-performance", "partial-outage",
	// "major-outage", "under-maintenance" or another value the API adds.
	Status string `json:"status"`

	// The captions the institution shows for each credential. A non-empty
	// SecurityCodeCaption or SecondaryLoginIDCaption means that credential is
	// required.
	LoginIDCaption          string `json:"loginIdCaption,omitempty"`
	PasswordCaption         string `json:"passwordCaption,omitempty"`
	SecurityCodeCaption     string `json:"securityCodeCaption,omitempty"`
	SecondaryLoginIDCaption string `json:"secondaryLoginIdCaption,omitempty"`
	UserTokenCaption        string `json:"userTokenCaption,omitempty"`
	ForgottenPasswordURL    string `json:"forgottenPasswordUrl,omitempty"`

	// Stats are the institution's published step durations; nil if none.
	Stats *InstitutionStats `json:"stats,omitempty"`
	// Features and Logo are kept as the API sent them.
	Features json.RawMessage `json:"features,omitempty"`
	Logo     json.RawMessage `json:"logo,omitempty"`
	Links    Links           `json:"links"`
}

// InstitutionStats holds an institution's published statistics.
type InstitutionStats struct {
	AverageDurationMs *StepDurations `json:"averageDurationMs,omitempty"`
}

// StepDurations are average durations in milliseconds of a connection job's
// steps at one institution.
type StepDurations struct {
	VerifyCredentials    float64 `json:"verifyCredentials"`
	RetrieveAccounts     float64 `json:"retrieveAccounts"`
	RetrieveTransactions float64 `json:"retrieveTransactions"`
	RetrieveMeta         float64 `json:"retrieveMeta"`
	Total                float64 `json:"total"`
}

// Links are the links of a resource.
type Links struct {
	Self string `json:"self,omitempty"`
}

// UnmarshalJSON reads tier as a string or a number.
func (in *Institution) UnmarshalJSON(b []byte) error {
	type plain Institution
	var raw struct {
		plain
		Tier json.RawMessage `json:"tier"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*in = Institution(raw.plain)
	in.Tier = tierOf(raw.Tier)
	return nil
}

// tierOf reads a tier given as a string or a number; "" for none.
func tierOf(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return ""
	}
	var s string
	if json.Unmarshal(t, &s) == nil {
		return s
	}
	return strings.Trim(string(t), `"`)
}

// Get returns one institution: GET /institutions/{id}. API version 3.0 has
// no /institutions: on a 3.0 client Get is refused before any request with
// an error matching [errors.ErrUnsupported]; use [ConnectorsService.Get].
// Each answer also
// refreshes the client's cache of institutions, which
// [ConnectionsService.Create] consults to validate its arguments.
func (s *InstitutionsService) Get(ctx context.Context, id string) (*Institution, error) {
	if err := s.client.unsupportedOn3("GET /institutions/{id}", "Client.Connectors (GET /connectors/{id}/{method})"); err != nil {
		return nil, err
	}
	if err := checkID("institution.id", id); err != nil {
		return nil, err
	}
	inst := new(Institution)
	if _, err := s.client.call(ctx, http.MethodGet, pathf("institutions/%s", id), nil, inst); err != nil {
		return nil, err
	}
	s.client.insts.put(id, *inst)
	return inst, nil
}

// cached returns the institution from the client's cache, or fetches it with
// Get. Concurrent misses for one id share one request.
func (s *InstitutionsService) cached(ctx context.Context, id string) (Institution, error) {
	return s.client.insts.get(ctx, id, func(ctx context.Context) (Institution, error) {
		inst, err := s.Get(ctx, id)
		if err != nil {
			return Institution{}, err
		}
		return *inst, nil
	})
}

// The client's cache of institutions is bounded in age and size, so that a
// long-running process meeting many ids does not grow without end.
const (
	// institutionTTL is how long a cached institution is trusted: an
	// institution's authorization type or captions can change.
	institutionTTL = 15 * time.Minute
	// maxCachedInstitutions bounds the entries; Basiq lists a few hundred
	// institutions.
	maxCachedInstitutions = 1000
)

// institutionCache keeps institutions per client, for validation.
type institutionCache struct {
	mu      sync.Mutex
	entries map[string]institutionEntry
	swept   time.Time // when expired entries were last dropped
	fetches flight[string, Institution]
}

type institutionEntry struct {
	inst    Institution
	fetched time.Time
}

func newInstitutionCache() *institutionCache {
	return &institutionCache{entries: map[string]institutionEntry{}, swept: time.Now()}
}

// put stores inst. Expired entries are dropped once per TTL, or when the
// cache is full; a cache still full then loses its oldest entry.
func (ic *institutionCache) put(id string, inst Institution) {
	inst = inst.cacheable()
	now := time.Now()
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if _, ok := ic.entries[id]; (!ok && len(ic.entries) >= maxCachedInstitutions) || now.Sub(ic.swept) >= institutionTTL {
		ic.swept = now
		for k, e := range ic.entries {
			if now.Sub(e.fetched) >= institutionTTL {
				delete(ic.entries, k)
			}
		}
		if _, ok := ic.entries[id]; !ok && len(ic.entries) >= maxCachedInstitutions {
			oldest, at := "", now
			for k, e := range ic.entries {
				if !e.fetched.After(at) {
					oldest, at = k, e.fetched
				}
			}
			delete(ic.entries, oldest)
		}
	}
	ic.entries[id] = institutionEntry{inst: inst, fetched: now}
}

// cacheable is the part of an institution the client uses (to validate a
// connection's arguments, to plan a wait), its texts bounded, so that a
// cached entry stays small whatever the API sent.
func (in Institution) cacheable() Institution {
	short := func(s string) string { return clean(s, 200) }
	out := Institution{
		ID: in.ID, Name: short(in.Name), Authorization: AuthorizationType(short(string(in.Authorization))),
		LoginIDCaption: short(in.LoginIDCaption), PasswordCaption: short(in.PasswordCaption),
		SecurityCodeCaption: short(in.SecurityCodeCaption), SecondaryLoginIDCaption: short(in.SecondaryLoginIDCaption),
		UserTokenCaption: short(in.UserTokenCaption),
	}
	if in.Stats != nil && in.Stats.AverageDurationMs != nil {
		d := *in.Stats.AverageDurationMs
		out.Stats = &InstitutionStats{AverageDurationMs: &d}
	}
	return out
}

// len returns how many entries the cache holds.
func (ic *institutionCache) len() int {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return len(ic.entries)
}

func (ic *institutionCache) get(ctx context.Context, id string, fetch func(context.Context) (Institution, error)) (Institution, error) {
	if inst, ok := ic.lookup(id); ok {
		return inst, nil
	}
	return ic.fetches.do(ctx, id, func(ctx context.Context) (Institution, error) {
		// Another caller's fetch may have filled the entry meanwhile.
		if inst, ok := ic.lookup(id); ok {
			return inst, nil
		}
		return fetch(ctx)
	})
}

func (ic *institutionCache) lookup(id string) (Institution, bool) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	e, ok := ic.entries[id]
	if !ok || time.Since(e.fetched) >= institutionTTL {
		return Institution{}, false
	}
	return e.inst, true
}

// InstitutionFilter narrows [InstitutionsService.List]. Conditions are joined
// with AND; empty fields are left out.
type InstitutionFilter struct {
	// ID keeps the institution with this id.
	ID string
	// Authorization keeps institutions with any of these authorization
	// types. A value that is not one of the AuthorizationType constants is
	// refused with a *ValidationError before any request (a typo would
	// match nothing); write a condition on a value the library does not know
	// yet in Raw.
	Authorization []AuthorizationType
	// Raw is a filter in Basiq's grammar, appended unchanged, for conditions
	// the fields above do not cover.
	Raw string
}

// query returns the filter's query values; a nil filter has none.
func (f *InstitutionFilter) query() (url.Values, error) {
	var b filterBuilder
	if f != nil {
		b.eq("id", "institution.id", f.ID)
		anyOf(&b, "authorization", "institution.authorization", f.Authorization, authorizationTypes)
		b.raw(f.Raw)
	}
	return b.query(0, 0)
}

// List returns institutions: GET /institutions, narrowed by f (nil for all).
// On a 3.0 client it is refused like [InstitutionsService.Get]; use
// [ConnectorsService.List].
// The answer also refreshes the client's cache of institutions.
func (s *InstitutionsService) List(ctx context.Context, f *InstitutionFilter) ([]Institution, error) {
	if err := s.client.unsupportedOn3("GET /institutions", "Client.Connectors (GET /connectors)"); err != nil {
		return nil, err
	}
	list, err := listAll[Institution](ctx, s.client, "institutions", f)
	if err != nil {
		return nil, err
	}
	for _, inst := range list {
		s.client.insts.put(inst.ID, inst)
	}
	return list, nil
}

func (x *Institution) resourceID() string { return x.ID }
