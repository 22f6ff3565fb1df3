package basiq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
)

// page is one page of a list answer: {"type":"list","data":[...],"links":{"next":...}}.
type page[T any] struct {
	Count int `json:"count"`
	Data  []T `json:"data"`
	Links struct {
		Next string `json:"next"`
	} `json:"links"`
}

// Bounds on one listing, so that a server answering ever-new next links
// cannot keep a loop going: real lists never reach them.
const (
	// maxEmptyPages is how many pages in a row may bring no item yet a next
	// link.
	maxEmptyPages = 3
	// maxListPages is how many pages one listing may have: 5 million
	// transactions at the default page size.
	maxListPages = 10000
)

// paginate yields the items of a list, one page at a time: the first page from
// path, each further page from the previous page's links.next, fetched only
// when the caller's loop reaches it. It ends with an error matching
// ErrInvalidResponse, instead of looping, when a next link repeats, when
// maxEmptyPages pages in a row bring nothing, or past maxListPages pages; and
// it refuses a next link outside the base URL (another origin, or a path
// outside its prefix), so the access token never goes there.
func paginate[T any](ctx context.Context, c *Client, path string) iter.Seq2[T, error] {
	return paginateAs(ctx, c, path, func(t *T) T { return *t }, maxListPages)
}

// paginateLenient is paginate for a list whose data may also come as one
// object, read as a list of one (see [lenientPage]).
func paginateLenient[T any](ctx context.Context, c *Client, path string) iter.Seq2[T, error] {
	return paginatePages(ctx, c, path, func() listPage[T] { return new(lenientPage[T]) }, func(t *T) T { return *t }, maxListPages)
}

// paginateAs is paginate for items decoded as W (a wire form that decodes in
// one pass) and yielded as T, over at most maxPages pages, each page's call
// made with opts.
func paginateAs[W, T any](ctx context.Context, c *Client, path string, conv func(*W) T, maxPages int, opts ...requestOption) iter.Seq2[T, error] {
	return paginatePages(ctx, c, path, func() listPage[W] { return new(page[W]) }, conv, maxPages, opts...)
}

// listPage is one page of a list as decoded: its items and its next link.
type listPage[W any] interface {
	items() []W
	nextLink() string
}

func (p *page[W]) items() []W       { return p.Data }
func (p *page[W]) nextLink() string { return p.Links.Next }

// lenientPage is a page whose data may also be one object, read as a list
// of one: the shape of Basiq's published example of a webhook list.
type lenientPage[W any] struct {
	Data  oneOrMany[W] `json:"data"`
	Links struct {
		Next string `json:"next"`
	} `json:"links"`
}

func (p *lenientPage[W]) items() []W       { return p.Data }
func (p *lenientPage[W]) nextLink() string { return p.Links.Next }

// oneOrMany reads a JSON list, or one object as a list of one.
type oneOrMany[W any] []W

// UnmarshalJSON implements [json.Unmarshaler].
func (l *oneOrMany[W]) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '{' {
		var one W
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = oneOrMany[W]{one}
		return nil
	}
	return json.Unmarshal(b, (*[]W)(l))
}

// paginatePages is paginateAs with pages made by newPage.
func paginatePages[W, T any](ctx context.Context, c *Client, path string, newPage func() listPage[W], conv func(*W) T, maxPages int, opts ...requestOption) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		var held []string
		seen := map[string]bool{}
		empty := 0
		for next := path; next != ""; {
			if len(seen) >= maxPages {
				yield(zero, fmt.Errorf("%w: the list did not end after %d pages", ErrInvalidResponse, maxPages))
				return
			}
			u, ok := c.resolve(next)
			if !ok {
				yield(zero, fmt.Errorf("%w: next page link %s", ErrInvalidResponse, c.refusedLink(next)))
				return
			}
			// A link quoting a credential would carry it into requests,
			// errors and logs: the list ends there instead.
			if held == nil {
				held = c.heldSecrets() // once a listing: pages come in quick succession
			}
			if quotesSecret(u, held) {
				yield(zero, fmt.Errorf("%w: next page link quotes a credential of this client; not followed", ErrInvalidResponse))
				return
			}
			if seen[u.String()] {
				yield(zero, fmt.Errorf("%w: the API repeated the next page link %s", ErrInvalidResponse, safePath(u)))
				return
			}
			seen[u.String()] = true
			p := newPage()
			if _, err := c.call(ctx, http.MethodGet, next, nil, p, opts...); err != nil {
				yield(zero, err)
				return
			}
			n, nextLink, stop := yieldPage(ctx, p, conv, yield)
			next = nextLink
			if stop {
				return
			}
			if n > 0 {
				empty = 0
			} else if empty++; empty >= maxEmptyPages && next != "" {
				yield(zero, fmt.Errorf("%w: %d pages in a row brought no item but a next link", ErrInvalidResponse, empty))
				return
			}
		}
	}
}

// quotesSecret reports whether u holds one of secrets, as it is or
// percent-encoded. It costs a few substring searches per page, no
// allocation for secrets that need no escaping.
func quotesSecret(u *url.URL, secrets []string) bool {
	link := u.String()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(link, s) || strings.Contains(u.Path, s) ||
			strings.Contains(link, url.PathEscape(s)) || strings.Contains(link, url.QueryEscape(s)) {
			return true
		}
	}
	return false
}

// refusedLink says why a link from an answer is not followed, naming no
// more of it than its origin, or its path on the base URL's origin: its
// query and user information may quote a secret. What it names is masked of
// the secrets the client holds (see [Client.heldSecrets]) and bounded.
func (c *Client) refusedLink(link string) string {
	u, err := url.Parse(link)
	switch {
	case err != nil || strings.Contains(link, `\`) || u.Opaque != "":
		return "is not a valid URL"
	case u.User != nil:
		return "carries user information"
	case u.Host != "" || strings.HasPrefix(link, "//"):
		if u.Scheme == "" {
			u.Scheme = c.baseURL.Scheme
		}
		if !c.sameOrigin(u) {
			return "to another origin: " + clean(maskForms(origin(u), secretForms(c.heldSecrets())), 200)
		}
	}
	return "outside the base URL's path: " + clean(maskForms(u.EscapedPath(), secretForms(c.heldSecrets())), 200)
}

// yieldPage yields the items of p converted by conv, checking ctx before
// each; it returns how many items p held, its next link, and whether the
// sequence ended (the caller stopped, or ctx ended).
func yieldPage[W, T any](ctx context.Context, p listPage[W], conv func(*W) T, yield func(T, error) bool) (int, string, bool) {
	data := p.items()
	for i := range data {
		if err := ctx.Err(); err != nil {
			var zero T
			yield(zero, err)
			return 0, "", true
		}
		if !yield(conv(&data[i]), nil) {
			return 0, "", true
		}
	}
	return len(data), p.nextLink(), false
}

// filter is a List method's filter: it writes its own query values.
type filter interface {
	query() (url.Values, error)
}

// listAll gathers every item of the list at path, narrowed by f (nil for
// none).
func listAll[T any](ctx context.Context, c *Client, path string, f filter) ([]T, error) {
	if f != nil {
		q, err := f.query()
		if err != nil {
			return nil, err
		}
		path = withQuery(path, q)
	}
	return collect(paginate[T](ctx, c, path))
}

// collect gathers every item of a paged list.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var all []T
	for item, err := range seq {
		if err != nil {
			return nil, err
		}
		all = append(all, item)
	}
	return all, nil
}
