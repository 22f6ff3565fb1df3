package basiq

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// The fast path of job answers (a plain decode, see plainDecodeSafe) must
// give exactly what the lenient decoders give on the same body: the same
// value when both succeed, the same error otherwise; and the sub-class read
// by hand (flatSubClass) what encoding/json reads.

// decodeFuzzSeeds are bodies in the forms the API uses and in forms where a
// plain decode and the lenient one part ways (repeated keys, keys hidden by
// escapes or case folding, results as arrays, sub-classes as strings).
var decodeFuzzSeeds = []string{
	`{"id":"j1","created":"2024-05-01T10:00:00Z","updated":"2024-05-01T10:00:03.5+10:00","steps":[` +
		`{"title":"verify-credentials","status":"success","result":null},` +
		`{"title":"retrieve-accounts","status":"success","result":{"type":"link","url":"/users/u/accounts"}},` +
		`{"title":"retrieve-transactions","status":"in-progress","result":null}],` +
		`"links":{"self":"/jobs/j1","source":"/users/u/connections/c1"},"institution":{"id":"AU00000"}}`,
	`{"id":"j2","steps":[{"title":"mfa-challenge","status":"in-progress","result":{"type":"mfa","method":"token",` +
		`"input":["Code",{"question":"PIN"}],"expiryMs":"120000","links":{"response":"/jobs/j2/mfa"}}}]}`,
	`{"id":"j3","steps":[{"title":"verify-credentials","status":"failed","result":[{"type":"link"},{"code":"bad","details":"no"}]}]}`,
	`{"id":"j4","steps":[{"title":"a","status":"failed","result":{"code":"x"},"result":{"type":"link"}}]}`,
	`{"id":"j5","steps":[{"title":"a","result":{"code":"x"}}],"steps":[{"title":"b","result":{"type":"link"}}]}`,
	`{"id":"j6","steps":[{"title":"a","result":{"code":"x"},"RESULT":{"title":"t"}},{"title":"b"}]}`,
	`{"id":"j7","steps":[{"title":"a","result":{"code":"x"},"re\u0073ult":{"title":"t"}},{"title":"b"}]}`,
	"{\"id\":\"j8\",\"steps\":[{\"title\":\"a\",\"result\":{\"code\":\"x\"},\"re\u017fult\":{\"title\":\"t\"}},{\"title\":\"b\"}]}",
	`{"id":"j9","steps":[{"title":"a","result":null,"result":{"code":"x"}}],"created":"2024-05-01 10:00:00","updated":"2024-05-01"}`,
	`{"id":"j10","steps":[{"result":[[{"code":"x"}]]}]}`,
	`{"id":"j11","created":"2024-05-01T10:00:00\u005a","steps":[{"result":"text"}],"institution":"AU1"}`,
	`{"type":"list","count":2,"data":[` +
		`{"id":"t1","status":"posted","description":"Coffee","amount":"-4.50","balance":"100.00","account":"a1",` +
		`"connection":{"id":"c1"},"institution":"AU00000","direction":"debit","class":"payment",` +
		`"subClass":{"code":"451","title":"Cafes"},"transactionDate":"2024-05-01T00:00:00Z","postDate":"2024-05-02T00:00:00Z",` +
		`"links":{"self":"/users/u/transactions/t1","account":"/users/u/accounts/a1"}},` +
		`{"id":"t2","amount":12.5,"subClass":null,"postDate":"","transactionDate":null}],"links":{"next":"/users/u/transactions?next=2\u0026limit=500"}}`,
	`{"data":[{"id":"t1","subClass":"Groceries"},{"id":"t2","subClass":{}}]}`,
	`{"data":[{"id":"t1","subClass":{"code":"1"},"subClass":{"title":"b"}}]}`,
	`{"data":[{"id":"t1","subClass":{"code":"1"}}],"data":[{"id":"t2","subClass":{"title":"b"}}]}`,
	`{"data":[{"id":"t1","subClass":{"code":"1"},"SUBCLASS":{}}]}`,
	`{"data":[{"id":"t1","amount":"1e99999999999999999999999999999999999999999999"}]}`,
	`{"code":"451","title":"Cafes"}`, ` { "title" : "a" , "code":"b","title":"c" } `, `{"code":"a\u0062"}`,
	`{"Code":"x"}`, `{"code":5}`, `{}`, `{"title":"x",}`, "{\"title\":\"\xff\"}",
	`null`, `{}`, `[]`, `{"data":null}`,
}

func FuzzFastDecodeMatchesLenient(f *testing.F) {
	for _, s := range decodeFuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var job jobAnswer
		errFast := job.decodeAnswer(body)
		var jw jobWire
		errLenient := json.Unmarshal(body, &jw)
		requireSameOutcome(t, errLenient, errFast)
		if errFast == nil {
			require.Equal(t, jw.job(), job.job(), "job")
			require.Equal(t, jw.ID, job.resourceID())
		}

		// The hand-read sub-class agrees with encoding/json wherever it
		// reads one.
		if got, ok := flatSubClass(body); ok {
			var want SubClass
			require.NoError(t, json.Unmarshal(body, &want), "flatSubClass read %q", body)
			require.Equal(t, want, got, "sub-class %q", body)
		}

		var lt lenientTime
		require.NoError(t, lt.UnmarshalJSON(body))
		want := parseTime(body)
		require.True(t, want.Equal(lt.Time) && want.Location() == lt.Location(), "timestamp %q: %v, want %v", body, lt.Time, want)
	})
}

// requireSameOutcome checks that two decodes of one body both succeeded, or
// both failed with the same message.
func requireSameOutcome(t *testing.T, lenient, fast error) {
	t.Helper()
	if lenient == nil {
		require.NoError(t, fast)
		return
	}
	require.EqualError(t, fast, lenient.Error())
}
