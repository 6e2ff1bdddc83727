package sim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestTokenRequest(t *testing.T) {
	s, _ := startSim(t, nil)
	url := s.RESTURL() + "/auth/accesstokenrequest"
	creds := defaultCreds()
	creds["cid"] = DefaultCID // a string cid is accepted too
	st, out := postJSON(t, url, creds)
	if st != 200 || out["accessToken"] == nil || out["mdAccessToken"] == nil || out["userId"] == nil {
		t.Fatalf("status %d body %v", st, out)
	}
	exp, err := time.Parse(tsLayout, out["expirationTime"].(string))
	if err != nil || exp.Sub(time.Now()) < 89*time.Minute || exp.Sub(time.Now()) > 91*time.Minute {
		t.Fatalf("expirationTime %v (%v)", out["expirationTime"], err)
	}
	// The md token authorizes the socket as well.
	c := dial(t, s)
	c.send("authorize\n0\n\n" + out["mdAccessToken"].(string))
	if m := c.response(0); m.S != 200 {
		t.Fatalf("md token: %+v", m)
	}

	bad := defaultCreds()
	bad["password"] = "wrong"
	st, out = postJSON(t, url, bad)
	if st != 200 || out["errorText"] == nil || out["accessToken"] != nil {
		t.Fatalf("bad credentials: status %d body %v", st, out)
	}
}

func TestPenaltyTicket(t *testing.T) {
	s, _ := startSim(t, func(c *Config) {
		c.AuthPenaltyAfter = 2
		c.PenaltyWait = 300 * time.Millisecond
	})
	url := s.RESTURL() + "/auth/accesstokenrequest"
	bad := defaultCreds()
	bad["password"] = "wrong"
	for i := 0; i < 2; i++ {
		if _, out := postJSON(t, url, bad); out["errorText"] == nil {
			t.Fatalf("attempt %d: %v", i, out)
		}
	}
	// Now even good credentials get a p-ticket.
	good := defaultCreds()
	st, out := postJSON(t, url, good)
	ticket, _ := out["p-ticket"].(string)
	if st != 200 || ticket == "" || out["p-time"] != float64(1) || out["accessToken"] != nil {
		t.Fatalf("penalty: status %d body %v", st, out)
	}
	// Retrying too early gets the ticket again.
	good["p-ticket"] = ticket
	if _, out := postJSON(t, url, good); out["p-ticket"] != ticket {
		t.Fatalf("early retry: %v", out)
	}
	time.Sleep(350 * time.Millisecond) // p-time
	if _, out := postJSON(t, url, good); out["accessToken"] == nil {
		t.Fatalf("retry after p-time: %v", out)
	}
}

func TestPenalizeAuthWithCaptcha(t *testing.T) {
	s, _ := startSim(t, func(c *Config) { c.PenaltyCaptcha = true })
	s.PenalizeAuth(1)
	_, out := postJSON(t, s.RESTURL()+"/auth/accesstokenrequest", defaultCreds())
	if out["p-ticket"] == nil || out["p-captcha"] != true {
		t.Fatalf("forced penalty: %v", out)
	}
	token(t, s) // the next request is answered
}

func TestRenewAndSessions(t *testing.T) {
	s, _ := startSim(t, func(c *Config) { c.TokenLifetime = time.Hour })
	t1 := token(t, s)
	st, out := getJSON(t, s.RESTURL()+"/auth/renewaccesstoken", t1)
	renewed, _ := out["accessToken"].(string)
	if st != 200 || renewed == "" || renewed == t1 {
		t.Fatalf("renew: %d %v", st, out)
	}
	if st, _ := getJSON(t, s.RESTURL()+"/auth/renewaccesstoken", ""); st != 401 {
		t.Fatalf("renew without a token: %d", st)
	}
	// Two sessions per user: a third token request revokes the first session
	// (and its renewed token).
	t2 := token(t, s)
	t3 := token(t, s)
	for tok, want := range map[string]int{t1: 401, renewed: 401, t2: 200, t3: 200} {
		if st, _ := getJSON(t, s.RESTURL()+"/contract/find?name=ESZ6", tok); st != want {
			t.Fatalf("token of session: status %d, want %d", st, want)
		}
	}
}

func TestContractEndpoints(t *testing.T) {
	s, _ := startSim(t, nil)
	tok := token(t, s)
	st, out := getJSON(t, s.RESTURL()+"/contract/find?name=ESZ6", tok)
	if st != 200 || out["id"] != float64(3570918) || out["name"] != "ESZ6" || out["providerTickSize"] != 0.25 {
		t.Fatalf("find: %d %v", st, out)
	}
	st, out = getJSON(t, s.RESTURL()+"/contract/item?id=3570919", tok)
	if st != 200 || out["name"] != "NQZ6" {
		t.Fatalf("item: %d %v", st, out)
	}
	st, out = getJSON(t, s.RESTURL()+"/product/find?name=NQ", tok)
	if st != 200 || out["tickSize"] != 0.25 || out["valuePerPoint"] != float64(20) {
		t.Fatalf("product: %d %v", st, out)
	}
	req, _ := http.NewRequest(http.MethodGet, s.RESTURL()+"/contract/suggest?t=g&l=5", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := noKeepAlive.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list) != 1 || list[0]["name"] != "GCZ6" {
		t.Fatalf("suggest: %v", list)
	}
	if st, _ := getJSON(t, s.RESTURL()+"/contract/find?name=XXZ9", tok); st != 404 {
		t.Fatalf("unknown: %d", st)
	}
	if st, _ := getJSON(t, s.RESTURL()+"/contract/find?name=ESZ6", ""); st != 401 {
		t.Fatalf("no token: %d", st)
	}
}
