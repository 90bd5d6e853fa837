// A Maven app shaped like a start.spring.io project (test/fixtures/apps/spring-boot-maven),
// pushed with real git over SSH and served: the JDK its pom asks for, from the JDK stack of
// that version (Debian's OpenJDK with Maven, hack/jdk-images.sh), `mvn package` in the
// app's sandbox (its dependencies from Maven Central into the app's build cache), the
// Spring Boot jar run with -Dserver.port=$PORT.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DormantUp, fixtureApp, startDormant, WorkingCopy } from './git-support.js';

let d: DormantUp;
before(async () => {
  d = await startDormant();
});
after(async () => {
  await d?.stop();
});

describe('Java apps', () => {
  it('a Spring Boot Maven app with java.version 17: built by Maven on JDK 17 without its tests, its jar served; a second push reuses the Maven repository', async () => {
    const copy = await WorkingCopy.create(d.work, 'spring', d.adminKey);
    await copy.commit(await fixtureApp('spring-boot-maven'));
    const pushed = await copy.push(d.remote('spring'));
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /Building spring \(java 17 \(17 in <java\.version> in pom\.xml\), Maven 3\.9, web: java -jar target\/dormant-web\.jar -Dserver\.port=\$PORT/);
    assert.match(pushed.stderr, /BUILD SUCCESS/);
    assert.match(pushed.stderr, /remote: +target\/demo-0\.0\.1-SNAPSHOT\.jar/);
    assert.doesNotMatch(pushed.stderr, /Tests run:/, 'tests are skipped at deploy');
    const answer = await d.get('spring');
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.body, 'Hello from Spring Boot on Java 17');
    await copy.commit({ 'src/main/java/com/example/demo/DemoApplication.java': (await fixtureApp('spring-boot-maven'))['src/main/java/com/example/demo/DemoApplication.java']?.replace('Hello from', 'Hello again from') ?? '' });
    const again = await copy.push(d.remote('spring'));
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /Downloading from central/, 'the Maven repository is kept in the app’s build cache');
    assert.equal((await d.get('spring')).body, 'Hello again from Spring Boot on Java 17');
  });
});
