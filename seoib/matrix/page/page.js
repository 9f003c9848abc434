// seoib matrix page: answers the query panel from the embedded cells (#data), tooltips, filters.
(function(){
var D=JSON.parse(document.getElementById('data').textContent);
var V=D.verdicts,C=D.citations,W=D.words,tip=document.getElementById('tip');
var ENT={'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'};
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return ENT[c];});}
function $(id){return document.getElementById(id);}
var SEV={ok:'fine',warn:'warning',block:'blocks',na:'n/a'};
var L=D.lookup||{},LK=L.kernels||{schemes:[],mainline:[],builds:{}};
function rel(t){var m=String(t).match(/^(\d+)\.(\d+)(?:\.(\d+))?$/);return m?[+m[1],+m[2],m[3]===undefined?null:+m[3]]:null;}
function cmp(a,b){return a[0]-b[0]||a[1]-b[1];}
// The class (and the member piece: 4.8, 6.18.0..6.18.16, 6.18.17+) a release belongs to.
function classOf(series,pt){
 for(var k=0;k<D.kernels.length;k++){var ms=D.kernels[k].members;
  for(var i=0;i<ms.length;i++){var r=ms[i].match(/^(\d+\.\d+)\.(\d+)\.\.(\d+\.\d+)\.(\d+)$/);
   if(r&&r[1]===series&&pt>=+r[2]&&pt<=+r[4])return [k,ms[i]];
   var p=ms[i].match(/^(\d+\.\d+)\.(\d+)\+$/);if(p&&p[1]===series&&pt>=+p[2])return [k,ms[i]];}}
 for(k=0;k<D.kernels.length;k++)if(D.kernels[k].members.indexOf(series)>=0)return [k,series];
 return [-1,null];}
function pieceOf(release){var r=rel(release);return r?classOf(r[0]+'.'+r[1],r[2]===null?0:r[2])[1]:null;}
function scheme(text){var S=LK.schemes||[];
 for(var i=0;i<S.length;i++){var re;try{re=new RegExp(S[i].pattern);}catch(e){continue;}
  var m=re.exec(text);if(!m||m[0]!==text||!m.groups)continue;
  var b=m.groups[S[i].group];if(!b||!rel(b))continue;
  if(S[i].group==='series'){var r=rel(b);b=r[0]+'.'+r[1];}
  return {id:S[i].id,base:b,series:S[i].group==='series',confirmed:S[i].confirmed};}
 return null;}
// A kernel as the CLI reads it: a class label, a build the rules name, a release (past the
// newest mainline: judged as the newest), or a distribution release read by its scheme.
function kernelOf(text){
 text=text.trim().replace(/^kernel\s+/i,'');var out={k:-1,text:text,note:'',piece:null};
 for(var k=0;k<D.kernels.length;k++)if(D.kernels[k].label===text){out.k=k;out.label=true;out.text=D.kernels[k].release;
  out.piece=pieceOf(out.text);return out;}
 if(LK.builds&&LK.builds[text]!==undefined&&LK.builds[text]!==null){out.k=LK.builds[text];
  out.note='kernel '+text+' is a distribution build the rules name (builds:)';return out;}
 var base=text,d=null;
 if(!rel(text)){d=scheme(text);if(!d)return out;base=d.base;}
 var r=rel(base),series=r[0]+'.'+r[1],newest=rel(LK.newest||'0.0');
 if(LK.newest&&cmp(r,newest)>0){out.k=classOf(LK.newest,0);
  out.note='[inferred] kernel '+text+' is newer than the newest mainline release in the rules ('+
   LK.newest+'): judged with its capabilities';out.piece=pieceOf(LK.newest);}
 else{var c=classOf(series,r[2]===null?0:r[2]);out.k=c[0];out.piece=c[1];}
 if(d){var ok=d.series?'series '+base+' (the release names the series, not its stable point)':'upstream '+base;
  out.note='[inferred] kernel '+text+' is a distribution build ('+d.id+(d.confirmed?'':', scheme unconfirmed')+
   ') of '+ok+': judged in the class of '+base+'; a vendor backport of the SEOIB flags would change the '+
   'verdict: settle it with the probed mask (seoib probe, x2apic-api=<mask>) or a builds: entry'+
   (out.note?'; '+out.note.replace('[inferred] ',''):'');}
 return out;}
// A machine type as the CLI reads it: an alias (the newest type of the source's QEMU) or a
// downstream type following an upstream one.
function machineOf(text,q){text=text.trim();var a=L.aliases&&L.aliases[text];
 if(a){return a[q]?{name:a[q],note:'alias '+text+' resolves to '+a[q]+' on QEMU '+q}:{name:null,note:'alias '+text+' has no target on QEMU '+q};}
 var ds=L.downstream||[];
 for(var i=0;i<ds.length;i++){var up=ds[i].types[text];
  if(!up&&ds[i].pattern){try{var m=new RegExp(ds[i].pattern).exec(text);
   if(m&&m[0]===text&&m.groups)up=m.groups.upstream;}catch(e){}}
  if(up)return {name:up,note:text+' is a '+ds[i].id+' machine type following upstream '+up+
   (ds[i].confirmed?'':' (mapping unconfirmed)')};}
 return {name:text,note:''};}
function tableFor(q){var near=null;
 for(var i=0;i<D.vms.length;i++){var t=D.vms[i];if(t.machines.indexOf(q.machine)<0)continue;near=t;
  var ei=q.irqchip==='default'?t.mi:q.irqchip,eo=q.ioapic==='default'?t.mo:q.ioapic;
  if(t.guest===q.guest&&ei===(t.ci||t.mi)&&eo===(t.co||t.mo))return t;}
 return near?{missing:near}:null;}
function stackIn(t,k,q,d){for(var i=0;i<t.st.length;i++){var s=D.stacks[t.st[i]];
 if(s.k===k&&s.d===d&&s.q.indexOf(q)>=0)return i;}return -1;}
function sev(v,na){return na?'na':v.severity;}
// The cells were computed for each class's representative stack; say the stack typed instead.
function typed(sides){var K={},Q={},P={},keep={},chains=LK.chains||{};
 function add(m,key,v){(m[key]=m[key]||[]);if(m[key].indexOf(v)<0)m[key].push(v);}
 sides.forEach(function(x){(chains[x.piece]||[]).forEach(function(c){keep[c.rule]=1;});});
 sides.forEach(function(x){var rep=D.kernels[x.k].release;if(x.text!==rep)add(K,rep,x.text);
  var rp=pieceOf(rep),mine=chains[x.piece]||[];
  if(x.piece&&rp!==x.piece)(chains[rp]||[]).forEach(function(c){
   var with_=mine.filter(function(t){return t.caps.some(function(cap){return c.caps.indexOf(cap)>=0;});});
   if(with_.length&&with_.every(function(t){return t.rule!==c.rule;}))with_.forEach(function(t){add(P,c.rule,t);});});
  var s=D.stacks[x.sid];if(!s)return;var qr=s.q[s.q.length-1];if(x.q!==qr)add(Q,qr,x.q);});
 Object.keys(P).forEach(function(r){if(keep[r])P[r]=[{rule:r,keep:1}].concat(P[r]);});
 return {K:K,Q:Q,P:P};}
function cited(c,T){var m=c.rule.match(/^kernel\.(.+)$/);
 if(m&&T.K[m[1]]&&c.text.indexOf('kernel '+m[1]+':')===0){var who=T.K[m[1]].join(' / ');
  return [{rule:'kernel.'+who,text:'kernel '+who+c.text.slice(('kernel '+m[1]).length),source:c.source}];}
 if(T.P&&T.P[c.rule])return T.P[c.rule].map(function(t){return t.keep?c:t;});
 var q=c.rule.match(/^qemu\.(\d+\.\d+)$/);
 if(q&&T.Q[q[1]])return T.Q[q[1]].map(function(x){return (L.qemu_citations||{})[x]||c;});
 return [c];}
function reasons(v,T){var h='<ul>',seen={};v.reasons.forEach(function(i){cited(C[i],T||{K:{},Q:{},P:{}}).forEach(function(c){
 var key=c.rule+'\u0000'+c.text;if(seen[key])return;seen[key]=1;
 h+='<li>'+esc(c.text)+' <span class="src">['+esc(c.rule)+' &middot; '+esc(c.source)+']</span></li>';});});
 return h+'</ul>';}
function state(s){return s?('policy '+s.policy+(s.suppression_honored?', suppression honored':'')):'never runs';}
function read(){var f={};['sk','sq','sd','dk','dq','dd','machine','irqchip','ioapic','guest','mode']
 .forEach(function(n){f[n]=$('q-'+n).value.trim();});return f;}
function spec(x,q,d){return 'kernel='+x.text+',qemu='+q+',seoib='+d;}
function answer(){var f=read(),out=$('answer'),h='';
 var sk=kernelOf(f.sk),dk=kernelOf(f.dk),mc=machineOf(f.machine,f.sq);
 var bad=[];if(sk.k<0)bad.push('source kernel "'+f.sk+'"');if(dk.k<0)bad.push('destination kernel "'+f.dk+'"');
 var q={machine:mc.name,irqchip:f.irqchip,ioapic:f.ioapic,guest:f.guest};
 var t=mc.name?tableFor(q):null;
 if(!t)bad.push('machine type "'+f.machine+'"'+(mc.note?' ('+mc.note+')':''));
 if(bad.length){out.className='';out.innerHTML='<div class="head na">Not in this matrix: '+esc(bad.join(', '))+
  '</div><p>Pick a release from the list, or ask the engine, which also infers releases newer than the rules: '+
  '<code>seoib migrate --src ... --dst ... --vm ...</code></p>';return;}
 if(t.missing){out.className='';out.innerHTML='<div class="head na">No VM class of the matrix has '+
  esc(f.machine)+' with irqchip '+esc(f.irqchip)+', IOAPIC '+esc(f.ioapic)+', guest '+esc(f.guest)+
  '</div><p>The matrix keeps the classes a fleet uses. Ask the engine for this one: <code>seoib migrate</code>.</p>';return;}
 var sd=+f.sd,dd=+f.dd,si=stackIn(t,sk.k,f.sq,sd),di=stackIn(t,dk.k,f.dq,dd);
 var snap=f.mode==='snapshot',grid=snap?t.s:t.m,what=snap?'snapshot restore (QMP loadvm)':'live migration';
 var vmw=t.words,cmd='seoib migrate --src '+spec(sk,f.sq,D.designs[sd])+' --dst '+
  spec(dk,f.dq,D.designs[dd])+' --vm machine='+f.machine+(f.irqchip!=='default'?',irqchip='+f.irqchip:'')+
  (f.ioapic!=='default'?',ioapic='+f.ioapic:'')+',guest='+f.guest+(snap?' --snapshot':'');
 var T=typed([{k:sk.k,text:sk.text,piece:sk.piece,q:f.sq,sid:t.st[si]},
  {k:dk.k,text:dk.text,piece:dk.piece,q:f.dq,sid:t.st[di]}]);
 var ps=V[t.p[si]],pd=V[t.p[di]];
 h+='<p>Source: kernel '+esc(sk.text)+' (class '+esc(D.kernels[sk.k].label)+') | QEMU '+esc(f.sq)+' | '+esc(D.designs[sd])+
  '. Destination: kernel '+esc(dk.text)+' (class '+esc(D.kernels[dk.k].label)+') | QEMU '+esc(f.dq)+' | '+esc(D.designs[dd])+'.</p>';
 h+='<p>VM class: <b>'+esc(vmw)+'</b></p>';
 var notes=[sk.note,dk.note,mc.note].filter(function(n,i,a){return n&&a.indexOf(n)===i;});
 if(notes.length)h+='<ul class="notes">'+notes.map(function(n){return '<li>note: '+esc(n)+'</li>';}).join('')+'</ul>';
 if(!t.r[si]){h='<div class="head na">n/a: QEMU '+esc(f.sq)+' does not register '+esc(mc.name)+
  '; the VM cannot run on the source</div>'+h;}
 else if(!grid){h='<div class="head na">This VM class has power-on cells only</div>'+h+
  '<p>Power-on on the source: '+esc(W[ps.outcome]||ps.outcome)+'. On the destination: '+
  esc(W[pd.outcome]||pd.outcome)+'.</p>';}
 else{var v=V[grid[si][di]],na=!t.r[di];
  var head=na?('n/a for SEOIB: QEMU '+f.dq+' does not register '+mc.name+', so the VM cannot move there'):
   (SEV[v.severity].toUpperCase()+': '+v.outcome+' \u2014 '+(W[v.outcome]||''));
  h='<div class="head '+sev(v,na)+'">'+esc(what)+': '+esc(head)+'</div>'+h;
  h+='<p>Power-on on the source: '+esc(ps.outcome)+(ps.policy?' (policy '+esc(ps.policy)+')':'')+
   '. State before: '+esc(state(v.src_state))+'; after: '+esc(state(v.dst_state))+'.</p>';
  h+='<p>Why:</p>'+reasons(v,T);
  h+='<p>Simulator: '+(v.witness.agrees?'agrees':'DISAGREES')+' ('+esc(v.witness.outcome)+').</p>';}
 h+=poolText(sk.k,f.sq,sd,dk.k,f.dq,dd);
 h+='<p>The same question on the command line:</p><code class="cmd">'+esc(cmd)+'</code>';
 h+=pair(sk.k,f.sq,sd,dk.k,f.dq,dd,snap);
 out.innerHTML=h;}
function poolText(sk,sq,sd,dk,dq,dd){
 function key(k,q,d){return 'kernel '+D.kernels[k].label+' | QEMU '+q+' | '+D.designs[d];}
 var a=D.pools.of[key(sk,sq,sd)],b=D.pools.of[key(dk,dq,dd)];
 if(a===undefined||b===undefined)return '';
 var s='<p>Pools: the source stack is in pool '+(a+1)+', the destination in pool '+(b+1);
 if(a===b)s+=' (the same pool: every VM class that runs well there can go and come back, maybe via other stacks)';
 else if(D.pools.oneway.some(function(e){return e[0]===a&&e[1]===b;}))s+=' (one-way: VMs can move this way, not back)';
 else s+=' (no pool-to-pool move this way)';
 return s+'.</p>';}
function pair(sk,sq,sd,dk,dq,dd,snap){var n={ok:0,warn:0,block:0,na:0,down:0},bad=[];
 D.vms.forEach(function(t){var grid=snap?t.s:t.m;if(!grid)return;var i=stackIn(t,sk,sq,sd),j=stackIn(t,dk,dq,dd);
  if(i<0||j<0)return;if(!t.r[i]||!t.r[j]){n.na++;return;}
  if(V[t.p[i]].severity==='block'){n.down++;return;}
  var v=V[grid[i][j]];n[v.severity]++;
  if(v.severity!=='ok')bad.push([v.severity,t.words,v.outcome]);});
 var h='<p>Every VM class with a '+(snap?'snapshot':'migration')+' table on this stack pair: '+n.ok+' fine, '+
  n.warn+' warning, '+n.block+' block; '+n.down+' do not run well on the source anyway (their power-on there '+
  'blocks); '+n.na+' n/a (machine type not on one of the QEMUs).</p>';
 if(bad.length){bad.sort(function(a,b){return a[0]<b[0]?-1:a[0]>b[0]?1:0;});
  h+='<ul>'+bad.map(function(b){return '<li><span class="sw '+b[0]+'">'+esc(SEV[b[0]])+'</span>'+esc(b[1])+': '+
   esc(b[2])+'</li>';}).join('')+'</ul>';}
 return h;}
document.querySelectorAll('form.q input,form.q select').forEach(function(el){
 el.addEventListener('input',answer);el.addEventListener('change',answer);});
$('q-form').addEventListener('submit',function(e){e.preventDefault();answer();});
answer();
function text(v){var s=v.outcome+' ('+v.severity+')';
 if(v.policy)s+='; policy '+v.policy;
 if(v.src_state)s+='; src '+v.src_state.policy;
 if(v.dst_state)s+='; dst '+v.dst_state.policy;
 return s;}
function where(td){var tr=td.parentNode,t=td.closest('table');
 if(t.dataset.kind==='policy')return tr.querySelector('th').textContent+' on '+t.rows[0].cells[0].textContent;
 var rows=t.querySelectorAll('tr[data-r]'),col=td.cellIndex-1;
 return 'from '+tr.querySelector('th').textContent+' to '+(rows[col]?rows[col].querySelector('th').textContent:'');}
function show(td){var snap=td.dataset.s&&$('hm-mode').value==='snapshot';
 var v=V[+(snap?td.dataset.s:td.dataset.v)];if(!v)return;
 var na=td.classList.contains('na');
 var h='<b>'+esc(td.closest('table').dataset.vm)+'</b> ('+(td.dataset.s?(snap?'snapshot restore':'live migration'):'power-on')+
  ')<br>'+esc(where(td))+'<br><b>'+esc(text(v))+'</b>';
 var plain=text(v);
 if(na){h+='<br>n/a: the machine type is not registered on this QEMU';plain+='\nn/a: machine type not registered';}
 h+='<ul>';
 v.reasons.forEach(function(i){var c=C[i];
  h+='<li>'+esc(c.text)+' <span class="src">['+esc(c.rule)+' | '+esc(c.source)+']</span></li>';
  plain+='\n- '+c.text+' ['+c.rule+' | '+c.source+']';});
 h+='</ul>simulator: '+(v.witness.agrees?'agrees':'DISAGREES')+' ('+v.witness.outcome+')';
 tip.innerHTML=h;td.title=plain;td.setAttribute('aria-describedby','tip');
 var r=td.getBoundingClientRect();tip.style.display='block';
 tip.style.left=(window.scrollX+Math.max(0,Math.min(r.left,window.innerWidth-460)))+'px';
 tip.style.top=(window.scrollY+r.bottom+4)+'px';}
function hide(){tip.style.display='none';}
document.addEventListener('mouseover',function(e){
 var td=e.target.closest('td[data-v]');if(td)show(td);else if(!e.target.closest('#tip'))hide();});
document.addEventListener('focusin',function(e){var td=e.target.closest('td[data-v]');if(td)show(td);});
document.addEventListener('keydown',function(e){if(e.key==='Escape')hide();});
function apply(){var g=$('guest').value;
 var off=[];document.querySelectorAll('input.design').forEach(function(b){if(!b.checked)off.push(b.value);});
 document.querySelectorAll('section[data-guest]').forEach(function(s){s.hidden=(g!=='all'&&s.dataset.guest!==g);});
 document.querySelectorAll('[data-d]').forEach(function(el){el.hidden=off.indexOf(el.dataset.d)>=0;});
 hide();}
function mode(){var snap=$('hm-mode').value==='snapshot';
 document.querySelectorAll('td[data-s]').forEach(function(td){if(td.classList.contains('na'))return;
  var v=V[+(snap?td.dataset.s:td.dataset.v)];td.className=v.severity;td.textContent=D.codes[snap?td.dataset.s:td.dataset.v];});
 document.querySelectorAll('.hm-what').forEach(function(el){el.textContent=snap?'Snapshot restore (QMP loadvm)':'Live migration';});
 hide();}
$('guest').addEventListener('change',apply);
$('hm-mode').addEventListener('change',mode);
document.querySelectorAll('input.design').forEach(function(b){b.addEventListener('change',apply);});
})();
