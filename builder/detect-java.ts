/**
 * How to build and start a Maven app (Heroku's Java buildpack, narrowed): the JDK its
 * system.properties or pom.xml asks for, from the JDK stacks here (Debian's OpenJDK in
 * `maven:3.9-eclipse-temurin-N` images); `./mvnw` when the app has a wrapper, else that
 * image's Maven; `package` without tests; and the web process: the Procfile's, else the
 * built jar with `-Dserver.port=$PORT` (Spring Boot's way of taking the port). Pure apart
 * from reading the tree through `files`.
 */
import type { BuildPlan, BuildStep } from './detect.js';
import type { SourceFiles } from './detect-python.js';
import { buildErrors } from './errors.js';
import { shellStart } from './start-command.js';

/** What an app asks for, and where it said so. */
export interface JavaRequest {
  readonly major: number;
  readonly from: string;
}

/** One JDK that can be had: its major version and the stack image that has it. */
export interface JdkLine {
  readonly major: number;
  readonly image: string;
}

export interface JavaChoice extends JdkLine {
  readonly why: string;
}

/** The JDK an app gets when it asks for none: an LTS that the frameworks people use today all run on. */
export const defaultJavaMajor = 21;

/** The jar the web process runs: the build's largest jar, linked here by the build's last step. */
export const webJar = 'target/dormant-web.jar';

/** `17`, `1.8` (Java 8), `21.0.2`: the major version; undefined for anything else. */
const major = (text: string): number | undefined => {
  const match = /^(?:1\.(\d+)|(\d+))(?:\.\d+)*$/.exec(text.trim());
  const value = Number(match?.[1] ?? match?.[2]);
  return Number.isInteger(value) && value > 0 && value < 1000 ? value : undefined;
};

/** The pom without its <!-- --> comments, in one scan (a lazy regex would rescan the rest of the file for each unclosed one). Pure. */
export function withoutComments(pom: string): string {
  let kept = '';
  for (let at = 0; at < pom.length; ) {
    const open = pom.indexOf('<!--', at);
    if (open === -1) return kept + pom.slice(at);
    kept += pom.slice(at, open);
    const close = pom.indexOf('-->', open + 4);
    if (close === -1) return kept;
    at = close + 3;
  }
  return kept;
}

/** A property of the pom's <properties>, or a plugin's <release>, resolving one `${name}` reference. Pure, linear. */
function pomValue(pom: string, names: readonly string[]): { value: string; name: string } | undefined {
  // Comments out first: a commented-out <java.version> is not what the build uses.
  const text = withoutComments(pom);
  for (const name of names) {
    const match = new RegExp(`<${name.replaceAll('.', '\\.')}>\\s*([^<]{1,64}?)\\s*</${name.replaceAll('.', '\\.')}>`).exec(text);
    if (!match?.[1]) continue;
    const reference = /^\$\{([\w.-]{1,64})\}$/.exec(match[1]);
    if (!reference?.[1]) return { value: match[1], name };
    const resolved = new RegExp(`<${reference[1].replaceAll('.', '\\.')}>\\s*([^<]{1,64}?)\\s*</`).exec(text);
    if (resolved?.[1]) return { value: resolved[1], name };
  }
  return undefined;
}

/** The JDK the app asks for: system.properties' java.runtime.version (Heroku's), else pom.xml's release, java.version or source. Pure. */
export function javaRequest(sources: { readonly systemProperties?: string; readonly pom?: string }): JavaRequest | undefined {
  const runtime = /^[ \t]*java\.runtime\.version[ \t]*[=:][ \t]*(\S{1,64})[ \t]*$/m.exec(sources.systemProperties ?? '')?.[1];
  if (runtime !== undefined) {
    const value = major(runtime.replace(/^zulu-|^heroku-/, ''));
    if (value === undefined) throw buildErrors.javaVersion({ wanted: runtime, from: 'system.properties', reason: 'it is not a Java version (such as 17 or 21)' });
    return { major: value, from: 'java.runtime.version in system.properties' };
  }
  if (sources.pom === undefined) return undefined;
  const found = pomValue(sources.pom, ['maven.compiler.release', 'java.version', 'release', 'maven.compiler.source', 'maven.compiler.target']);
  if (!found) return undefined;
  const value = major(found.value);
  if (value === undefined) throw buildErrors.javaVersion({ wanted: found.value, from: `pom.xml's <${found.name}>`, reason: 'it is not a Java version (such as 17 or 21)' });
  return { major: value, from: `<${found.name}> in pom.xml` };
}

/**
 * The JDK: the one asked for when it is here; one older than any here gets the oldest here
 * (a newer javac compiles for an older release, and the JVM runs older class files); one
 * newer than any is refused. No request: defaultJavaMajor, else the newest here.
 */
export function chooseJava(request: JavaRequest | undefined, available: readonly JdkLine[]): JavaChoice {
  const lines = [...available].sort((a, b) => a.major - b.major);
  const oldest = lines[0];
  const newest = lines.at(-1);
  if (!oldest || !newest) throw buildErrors.javaUnavailable({ reason: 'no JDK stack image is on this machine (make them with hack/jdk-images.sh)' });
  if (request === undefined) {
    const chosen = lines.find((line) => line.major === defaultJavaMajor) ?? newest;
    return { ...chosen, why: 'the default; set java.version in pom.xml to choose another' };
  }
  const exact = lines.find((line) => line.major === request.major);
  if (exact) return { ...exact, why: `${request.major} in ${request.from}` };
  if (request.major < oldest.major) return { ...oldest, why: `${request.major} in ${request.from} (JDK ${oldest.major} builds and runs it: none older is here)` };
  const newer = lines.find((line) => line.major > request.major);
  if (newer && request.major < newest.major) return { ...newer, why: `${request.major} in ${request.from} (JDK ${newer.major}, the next here)` };
  throw buildErrors.javaVersion({ wanted: String(request.major), from: request.from, reason: `the JDKs here are ${lines.map((line) => line.major).join(', ')}` });
}

export async function detectJava(files: SourceFiles, procfile: string | undefined, chooseJdk: (request: JavaRequest | undefined) => Promise<JavaChoice>): Promise<BuildPlan> {
  const { has, read } = files;
  const pom = await read('pom.xml');
  const java = await chooseJdk(javaRequest({ pom, ...(has('system.properties') ? { systemProperties: await read('system.properties') } : {}) }));
  const wrapper = has('mvnw') && has('.mvn/wrapper/maven-wrapper.properties');
  const maven = wrapper ? './mvnw' : 'mvn';
  const steps: BuildStep[] = [
    // -B: no colours or prompts; the repository is the app's build cache (MAVEN_OPTS sets it: run-build.ts).
    { name: `${maven} -B -DskipTests package`, command: wrapper ? ['/bin/sh', './mvnw', '-B', '-DskipTests', 'package'] : ['mvn', '-B', '-DskipTests', 'package'] },
  ];
  // A Procfile names what runs (a multi-module build's jar, say): no jar is picked for it.
  if (procfile === undefined)
    steps.push({
      name: `the largest jar in target/ becomes ${webJar}`,
      command: [
        '/bin/sh',
        '-c',
        `set -- $(ls -S target/*.jar 2>/dev/null | grep -v -e '-sources\\.jar$' -e '-javadoc\\.jar$' -e '-tests\\.jar$' -e '-plain\\.jar$' -e '/dormant-web\\.jar$'); [ -n "$1" ] || { echo "the build left no jar in target/: a multi-module build needs a Procfile naming the jar to run"; exit 1; }; echo "$1"; ln -sfn "\${1#target/}" ${webJar}`,
      ],
    });
  const web = procfile ?? `java -Dserver.port="$PORT" $JAVA_OPTS -jar ${webJar}`;
  return {
    summary: `java ${java.major} (${java.why}), ${wrapper ? 'Maven wrapper (mvnw)' : 'Maven 3.9'}, ${procfile !== undefined ? 'web from Procfile' : `web: java -jar ${webJar} -Dserver.port=$PORT (a Procfile web: line chooses another)`}`,
    kind: 'java',
    java,
    steps,
    start: shellStart(web, 'bin'),
  };
}
