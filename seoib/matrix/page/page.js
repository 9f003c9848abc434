// seoib matrix page: answers the query panel from the embedded cells (#data), tooltips, filters.
(function(){
var D=JSON.parse(document.getElementById('data').textContent);
var V=D.verdicts,C=D.citations,W=D.words,tip=document.getElementById('tip');
var ENT={'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'};
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return ENT[c];});}
function $(id){return document.getElementById(id);}
var SEV={ok:'fine',warn:'warning',block:'blocks',na:'n/a'};
function kernelOf(text){
 text=text.trim().replace(/^kernel\s+/i,'');
 for(var k=0;k<D.kernels.length;k++)if(D.kernels[k].label===text)return k;
 var v=text.match(/^(\d+)\.(\d+)(?:\.(\d+))?$/);if(!v)return -1;
 var mm=v[1]+'.'+v[2],pt=v[3]===undefined?0:+v[3];
 for(k=0;k<D.kernels.length;k++){var ms=D.kernels[k].members;
  for(var i=0;i<ms.length;i++){var r=ms[i].match(/^(\d+\.\d+)\.(\d+)\.\.(\d+\.\d+)\.(\d+)$/);
   if(r&&r[1]===mm&&pt>=+r[2]&&pt<=+r[4])return k;
   var p=ms[i].match(/^(\d+\.\d+)\.(\d+)\+$/);if(p&&p[1]===mm&&pt>=+p[2])return k;}}
 for(k=0;k<D.kernels.length;k++)if(D.kernels[k].members.indexOf(mm)>=0)return k;
 return -1;}
function tableFor(q){var near=null;
 for(var i=0;i<D.vms.length;i++){var t=D.vms[i];if(t.machines.indexOf(q.machine)<0)continue;near=t;
  var ei=q.irqchip==='default'?t.mi:q.irqchip,eo=q.ioapic==='default'?t.mo:q.ioapic;
  if(t.guest===q.guest&&ei===(t.ci||t.mi)&&eo===(t.co||t.mo))return t;}
 return near?{missing:near}:null;}
function stackIn(t,k,q,d){for(var i=0;i<t.st.length;i++){var s=D.stacks[t.st[i]];
 if(s.k===k&&s.d===d&&s.q.indexOf(q)>=0)return i;}return -1;}
function sev(v,na){return na?'na':v.severity;}
function reasons(v){var h='<ul>';v.reasons.forEach(function(i){var c=C[i];
 h+='<li>'+esc(c.text)+' <span class="src">['+esc(c.rule)+' &middot; '+esc(c.source)+']</span></li>';});
 return h+'</ul>';}
function state(s){return s?('policy '+s.policy+(s.suppression_honored?', suppression honored':'')):'never runs';}
function read(){var f={};['sk','sq','sd','dk','dq','dd','machine','irqchip','ioapic','guest','mode']
 .forEach(function(n){f[n]=$('q-'+n).value.trim();});return f;}
function spec(k,q,d,text){var kt=kernelOf(text)===k&&/^\d/.test(text)?text:D.kernels[k].release;
 return 'kernel='+kt+',qemu='+q+',seoib='+d;}
function answer(){var f=read(),out=$('answer'),h='';
 var sk=kernelOf(f.sk),dk=kernelOf(f.dk);
 var bad=[];if(sk<0)bad.push('source kernel "'+f.sk+'"');if(dk<0)bad.push('destination kernel "'+f.dk+'"');
 var q={machine:f.machine,irqchip:f.irqchip,ioapic:f.ioapic,guest:f.guest};
 var t=tableFor(q);
 if(!t)bad.push('machine type "'+f.machine+'"');
 if(bad.length){out.className='';out.innerHTML='<div class="head na">Not in this matrix: '+esc(bad.join(', '))+
  '</div><p>Pick a release from the list, or ask the engine, which also infers releases newer than the rules: '+
  '<code>seoib migrate --src ... --dst ... --vm ...</code></p>';return;}
 if(t.missing){out.className='';out.innerHTML='<div class="head na">No VM class of the matrix has '+
  esc(f.machine)+' with irqchip '+esc(f.irqchip)+', IOAPIC '+esc(f.ioapic)+', guest '+esc(f.guest)+
  '</div><p>The matrix keeps the classes a fleet uses. Ask the engine for this one: <code>seoib migrate</code>.</p>';return;}
 var sd=+f.sd,dd=+f.dd,si=stackIn(t,sk,f.sq,sd),di=stackIn(t,dk,f.dq,dd);
 var snap=f.mode==='snapshot',grid=snap?t.s:t.m,what=snap?'snapshot restore (QMP loadvm)':'live migration';
 var vmw=t.words,cmd='seoib migrate --src '+spec(sk,f.sq,D.designs[sd],f.sk)+' --dst '+
  spec(dk,f.dq,D.designs[dd],f.dk)+' --vm machine='+f.machine+(f.irqchip!=='default'?',irqchip='+f.irqchip:'')+
  (f.ioapic!=='default'?',ioapic='+f.ioapic:'')+',guest='+f.guest+(snap?' --snapshot':'');
 var ps=V[t.p[si]],pd=V[t.p[di]];
 h+='<p>VM class: <b>'+esc(vmw)+'</b></p>';
 if(!t.r[si]){h='<div class="head na">n/a: QEMU '+esc(f.sq)+' does not register '+esc(f.machine)+
  '; the VM cannot run on the source</div>'+h;}
 else if(!grid){h='<div class="head na">This VM class has power-on cells only</div>'+h+
  '<p>Power-on on the source: '+esc(W[ps.outcome]||ps.outcome)+'. On the destination: '+
  esc(W[pd.outcome]||pd.outcome)+'.</p>';}
 else{var v=V[grid[si][di]],na=!t.r[di];
  var head=na?('n/a for SEOIB: QEMU '+f.dq+' does not register '+f.machine+', so the VM cannot move there'):
   (SEV[v.severity].toUpperCase()+': '+v.outcome+' \u2014 '+(W[v.outcome]||''));
  h='<div class="head '+sev(v,na)+'">'+esc(what)+': '+esc(head)+'</div>'+h;
  h+='<p>Power-on on the source: '+esc(ps.outcome)+(ps.policy?' (policy '+esc(ps.policy)+')':'')+
   '. State before: '+esc(state(v.src_state))+'; after: '+esc(state(v.dst_state))+'.</p>';
  h+='<p>Why:</p>'+reasons(v);
  h+='<p>Simulator: '+(v.witness.agrees?'agrees':'DISAGREES')+' ('+esc(v.witness.outcome)+').</p>';}
 h+=poolText(sk,f.sq,sd,dk,f.dq,dd);
 h+='<p>The same question on the command line:</p><code class="cmd">'+esc(cmd)+'</code>';
 h+=pair(sk,f.sq,sd,dk,f.dq,dd,snap);
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
