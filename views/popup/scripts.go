package popup

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"strings"

	"github.com/a-h/templ"
)

// The popup's scripts are plain constants emitted verbatim inside nonce'd
// <script> elements: they take no Go values (those travel in data-* attributes,
// escaped by templ), so nothing user-controlled is ever spliced into JS.

// detachedJS tells the server when the popup has lost its opener (COOP, webviews),
// so the lead's fallback can hand the outcome over by polling instead.
const detachedJS = `(function(){
var d=document.body.dataset;
if(d.hitchModal==="true"||window.opener||!d.hitchSession||!d.hitchCsrf||!window.fetch)return;
fetch("/popup/"+encodeURIComponent(d.hitchSession)+"/detached",{method:"POST",headers:{"X-CSRF-Token":d.hitchCsrf},credentials:"same-origin"}).catch(function(){});
})();`

// searchJS re-renders the result list as the user types and adds arrow-key
// navigation; without it the GET form does the same job.
const searchJS = `(function(){
var form=document.getElementById("hitch-search"),input=document.getElementById("hitch-q"),
list=document.getElementById("hitch-results"),count=document.getElementById("hitch-count"),
caption=document.getElementById("hitch-caption"),empty=document.getElementById("hitch-empty"),
emptyTitle=document.getElementById("hitch-empty-title"),
tplOn=document.getElementById("hitch-row-on"),tplOff=document.getElementById("hitch-row-off");
if(!form||!input||!list||!tplOn||!tplOff||!window.fetch||!window.URL)return;
var endpoint=form.getAttribute("data-search-url");
if(!endpoint)return;
var api;
try{api=new URL(endpoint,location.href);}catch(e){return;}
if(api.origin!==location.origin)return;
var initialCaption=caption?caption.textContent:"";
var last=input.value.trim(),timer=0,ctrl=null,seq=0;
function local(u){
if(typeof u!=="string"||!u)return "";
try{var x=new URL(u,location.href);return x.origin===location.origin?x.pathname+x.search+x.hash:"";}catch(e){return "";}
}
function initial(s){var m=/[A-Za-z0-9]/.exec(s||"");return m?m[0].toUpperCase():"?";}
function row(it){
var href=local(it.url),off=it.configured===false||!href;
var li=(off?tplOff:tplOn).content.firstElementChild.cloneNode(true);
var name=String(it.name||it.key||"");
if(!off)li.querySelector(".app-row").setAttribute("href",href);
li.querySelector("[data-name]").textContent=name;
var cats=Array.isArray(it.categories)?it.categories.filter(function(c){return typeof c==="string";}).join(" \u00b7 "):"";
var c=li.querySelector("[data-cats]");c.textContent=cats;c.hidden=!cats;
var best=li.querySelector("[data-best]");if(best)best.hidden=!(it.decisive&&!off);
var logo=li.querySelector("[data-logo]"),src=local(it.logo);
if(src){var img=document.createElement("img");img.src=src;img.alt="";img.width=40;img.height=40;img.decoding="async";logo.appendChild(img);}
else{logo.classList.add("is-monogram");logo.textContent=initial(name);}
return li;
}
function render(q,items){
var frag=document.createDocumentFragment();
items.forEach(function(it){
if(!it||typeof it!=="object")return;
if(it.configured!==false&&!local(it.url))return;
frag.appendChild(row(it));
});
list.textContent="";list.appendChild(frag);
var n=list.children.length;
list.hidden=n===0;
if(count)count.textContent=n===0?"No apps":n===1?"1 app":n+" apps";
if(caption)caption.textContent=q?"Results for \u201c"+q+"\u201d":initialCaption;
if(empty){empty.hidden=n!==0;if(emptyTitle)emptyTitle.textContent=q?"No app matches \u201c"+q+"\u201d.":"No apps to show here.";}
}
function syncURL(){
try{var u=new URL(form.action,location.href);u.search=new URLSearchParams(new FormData(form)).toString();
if(u.origin===location.origin)history.replaceState(history.state,"",u.pathname+u.search);}catch(e){}
}
function run(){
var q=input.value.trim();
if(q===last)return;
last=q;
if(ctrl)ctrl.abort();
ctrl=window.AbortController?new AbortController():null;
var mine=++seq,u=new URL(api.href);
u.searchParams.set("q",q);
var cat=form.querySelector("input[name=category]");
if(cat&&cat.value)u.searchParams.set("category",cat.value);
list.setAttribute("aria-busy","true");
fetch(u.href,{credentials:"same-origin",headers:{"Accept":"application/json"},signal:ctrl?ctrl.signal:undefined})
.then(function(r){if(!r.ok)throw new Error("search "+r.status);return r.json();})
.then(function(b){if(mine!==seq)return;render(q,b&&Array.isArray(b.items)?b.items:[]);syncURL();})
.catch(function(){})
.then(function(){if(mine===seq)list.removeAttribute("aria-busy");});
}
input.addEventListener("input",function(){clearTimeout(timer);timer=setTimeout(run,180);});
function links(){return Array.prototype.slice.call(list.querySelectorAll("a.app-row"));}
input.addEventListener("keydown",function(e){
if(e.key==="ArrowDown"){var l=links();if(l.length){e.preventDefault();l[0].focus();}}
});
list.addEventListener("keydown",function(e){
var l=links(),i=l.indexOf(document.activeElement);
if(i<0)return;
if(e.key==="ArrowDown"){e.preventDefault();(l[i+1]||l[i]).focus();}
else if(e.key==="ArrowUp"){e.preventDefault();if(i>0)l[i-1].focus();else input.focus();}
else if(e.key==="Home"){e.preventDefault();l[0].focus();}
else if(e.key==="End"){e.preventDefault();l[l.length-1].focus();}
});
})();`

// formJS adds show/hide toggles to secret inputs and a busy state that also
// stops a double submit; the forms post normally without it.
const formJS = `(function(){
Array.prototype.forEach.call(document.querySelectorAll("button[data-reveal]"),function(btn){
var input=document.getElementById(btn.getAttribute("aria-controls")),label=btn.querySelector("[data-reveal-label]");
if(!input)return;
btn.hidden=false;
btn.addEventListener("click",function(){
var show=input.type==="password";
input.type=show?"text":"password";
btn.classList.toggle("is-on",show);
if(label)label.textContent=show?"Hide":"Show";
});
});
Array.prototype.forEach.call(document.querySelectorAll("form[data-busy]"),function(form){
var btn=form.querySelector("button[data-busy-label]");
var label=btn&&btn.querySelector("[data-label]");
var idle=label?label.textContent:"";
function reset(){form.removeAttribute("aria-busy");if(btn){btn.classList.remove("is-busy");btn.removeAttribute("aria-disabled");}if(label)label.textContent=idle;}
form.addEventListener("submit",function(e){
if(form.getAttribute("aria-busy")==="true"){e.preventDefault();return;}
form.setAttribute("aria-busy","true");
Array.prototype.forEach.call(form.querySelectorAll("input[data-secret]"),function(i){i.type="password";});
if(btn){btn.classList.add("is-busy");btn.setAttribute("aria-disabled","true");}
if(label)label.textContent=btn.getAttribute("data-busy-label");
});
window.addEventListener("pageshow",function(e){if(e.persisted)reset();});
});
})();`

// modalOAuthJS runs the consent page inside the SDK's modal overlay. Providers refuse to be framed, so the
// form posts into a popup window (opened here, inside the click, so it is sized like the SDK's popup and no
// blocker stops it); this frame then waits, asking the server for the session's status, and loads the result
// page once the session ends: that page, in this frame, hands the outcome to the host page. The popup's own
// result page closes itself. "Open the sign-in window again" reloads this page for a new attempt.
const modalOAuthJS = `(function(){
var form=document.querySelector("form[data-oauth-window]"),wait=document.getElementById("hitch-wait");
if(!form||!wait)return;
var polling=false;
function poll(){
fetch(wait.getAttribute("data-status-url"),{credentials:"same-origin",cache:"no-store"})
.then(function(r){return r.ok?r.json():null;})
.then(function(s){if(s&&s.status&&s.status!=="pending"){location.replace(wait.getAttribute("data-result-url"));return;}setTimeout(poll,1000);},
function(){setTimeout(poll,2000);});
}
form.addEventListener("submit",function(){
var w=480,h=720,left=Math.max(0,(screen.availWidth-w)/2),top=Math.max(0,(screen.availHeight-h)/2);
try{window.open("",form.getAttribute("target"),"popup,width="+w+",height="+h+",left="+left+",top="+top);}catch(e){}
setTimeout(function(){form.hidden=true;wait.hidden=false;if(!polling){polling=true;poll();}},0);
});
var again=wait.querySelector("[data-reopen]");
if(again)again.addEventListener("click",function(e){e.preventDefault();location.reload();});
})();`

// resultJS hands the outcome to the opener (or the modal's parent) at the exact
// host origin, then closes the popup; when it cannot, it tells the user to.
const resultJS = `(function(){
var data=document.getElementById("hitch-result"),note=document.getElementById("hitch-close-note"),
closeBtn=document.getElementById("hitch-close"),modal=document.body.getAttribute("data-hitch-modal")==="true";
function showNote(){if(note)note.hidden=false;var bar=document.querySelector(".progress");if(bar)bar.hidden=true;}
function tryClose(){try{window.close();}catch(e){}setTimeout(showNote,400);}
var target=null;
try{target=modal?(window.parent!==window?window.parent:null):window.opener;}catch(e){}
var origin=data?data.getAttribute("data-origin"):"",sent=false;
if(target&&origin&&data){try{target.postMessage(JSON.parse(data.textContent),origin);sent=true;}catch(e){}}
if(closeBtn&&!modal){closeBtn.hidden=false;closeBtn.addEventListener("click",tryClose);}
if(modal&&sent)return;
if(sent&&data.getAttribute("data-autoclose")==="true"){setTimeout(tryClose,1200);return;}
showNote();
})();`

// inlineScript writes a nonce'd <script> holding js verbatim.
func inlineScript(nonce, js string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, `<script nonce="`+html.EscapeString(nonce)+`">`+js+`</script>`)
		return err
	})
}

// jsonScriptReplacer makes JSON inert inside a <script> element: no "</script",
// no "<!--", and no line separators that older parsers treat as newlines.
// Each replacement is a JSON escape, so the text still parses to the same value.
var jsonScriptReplacer = strings.NewReplacer(
	"<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "\u2028", `\u2028`, "\u2029", `\u2029`,
)

// safeJSON returns payload escaped for a data block, or "null" if it is not JSON
// (the escapes are only valid inside JSON strings, and nothing else may hold '<').
func safeJSON(payload string) string {
	if !json.Valid([]byte(payload)) {
		return "null"
	}
	return jsonScriptReplacer.Replace(payload)
}

// resultData is the <script type="application/json"> data block the result script reads.
func resultData(p ResultPage) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, `<script type="application/json" id="hitch-result" nonce="`+
			html.EscapeString(p.Nonce)+`" data-origin="`+html.EscapeString(p.HostOrigin)+
			`" data-autoclose="`+boolAttr(p.AutoClose)+`">`+safeJSON(p.Payload)+`</script>`)
		return err
	})
}
