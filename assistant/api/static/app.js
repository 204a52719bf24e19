/* Bilim Assistant — web chat. Plain ES2020, no dependencies, no build step.
 *
 * Security rule for this file: data from the user, the server or the documents is only ever put into
 * the page with textContent / createElement / setAttribute — never with innerHTML.
 */
(() => {
  'use strict';

  // ---------------------------------------------------------------------------------------------
  // Interface strings
  // ---------------------------------------------------------------------------------------------

  const I18N = {
    ky: {
      tagline: 'Билим берүү министрлигинин документтери',
      viewsLabel: 'Бөлүмдөр',
      tabChat: 'Маек',
      tabDocuments: 'Документтер',
      languageLabel: 'Интерфейстин тили',
      keyButton: 'Кирүү ачкычы',
      keyButtonTitle: 'Кирүү ачкычын өзгөртүү',
      skipToInput: 'Суроого өтүү',
      messagesLabel: 'Маек',
      welcomeTitle: 'Министрликтин документтери боюнча суроо бериңиз',
      welcomeText: 'Жооптор жүктөлгөн документтерге гана негизделет. Ар бир ырастоо булагы менен байланышкан — цитатаны окуу үчүн [1] сыяктуу номерди басыңыз.',
      thinking: 'Жооп даярдалууда…',
      questionLabel: 'Сурооңуз',
      questionPlaceholder: 'Суроо бериңиз',
      send: 'Жөнөтүү',
      enterHint: 'Enter — жөнөтүү · Shift+Enter — жаңы сап',
      newConversation: 'Жаңы маек',
      counterLabel: '{n} / {max} белги',
      emptyQuestion: 'Адегенде суроону жазыңыз.',
      noWords: 'Сурооңузду сөз менен жазыңыз — эмодзи же белгилер гана суроо эмес.',
      tooLong: 'Суроо өтө узун: {n} белги, чеги — {max}.',
      you: 'Сиз',
      assistant: 'Bilim Assistant',
      sources: 'Булактар',
      refusedLabel: 'Документтерде жок',
      answerLabel: 'Жооп',
      quoteIntro: 'Документтерде мындай деп айтылат:',
      refusalText: 'Кечиресиз, бул суроонун жообун документтерден таба алган жокмун. Суроону башкача берип көрүңүз же Билим берүү жана илим министрлигинин расмий булактарына кайрылыңыз.',
      openCitation: '{n}-булакты ачуу',
      feedbackPrompt: 'Жооп пайдалуу болдубу?',
      fbUp: 'Пайдалуу',
      fbDown: 'Пайдасыз',
      fbThanks: 'Рахмат!',
      fbFailed: 'Бааны жөнөтүү мүмкүн болгон жок.',
      close: 'Жабуу',
      quoteN: 'Цитата [{n}]',
      quoteLabel: 'Цитатанын тексти',
      docId: 'Документтин ID',
      date: 'Күнү',
      link: 'Шилтеме',
      errorGeneric: 'Ката кетти (код {status}).',
      errorNetwork: 'Кызмат жеткиликсиз. Бир аздан кийин кайра аракет кылыңыз.',
      retryAfter: '{s} секунддан кийин кайра аракет кылыңыз.',
      retry: 'Кайталоо',
      keyTitle: 'Кирүү ачкычы',
      keyIntro: 'Бул кызматты колдонуу үчүн кирүү ачкычы керек. Аны администратордон сураңыз.',
      keyLabel: 'Ачкыч',
      showKey: 'Ачкычты көрсөтүү',
      forgetKey: 'Ачкычты унутуу',
      cancel: 'Жокко чыгаруу',
      save: 'Сактоо',
      keyRejected: 'Ачкыч кабыл алынган жок. Ачкычты кайра киргизиңиз.',
      keyEmpty: 'Ачкычты киргизиңиз.',
      configFailed: 'Сервердин жөндөөлөрүн жүктөө мүмкүн болгон жок.',
      documentsTitle: 'Документтер',
      refresh: 'Жаңылоо',
      uploadTitle: 'Документтерди жүктөө',
      uploadHint: 'Форматтар: .txt, .md, .html, .pdf, .docx, .jsonl. Бир файлдын эң чоң көлөмү: {size}.',
      uploadHintNoLimit: 'Форматтар: .txt, .md, .html, .pdf, .docx, .jsonl.',
      chooseFiles: 'Файлдарды тандаңыз',
      uploadButton: 'Жүктөө',
      uploadProgress: 'Жүктөөнүн жүрүшү',
      uploading: 'Жүктөлүүдө… {p}%',
      processing: 'Документтер иштетилүүдө…',
      uploadDone: 'Даяр.',
      noFiles: 'Адегенде бир же бир нече файл тандаңыз.',
      fileTooLarge: '«{file}» файлы өтө чоң ({size}; чеги — {max}).',
      ingestedN: 'Жүктөлдү: {n}',
      failedN: 'Жүктөлгөн жок: {n}',
      chunksN: '{n} бөлүк',
      status_added: 'кошулду',
      status_replaced: 'алмаштырылды (ушундай аталыштагы документ бар эле)',
      status_unchanged: 'өзгөргөн жок',
      colTitle: 'Аталышы',
      colId: 'ID',
      colLanguage: 'Тили',
      colChunks: 'Бөлүктөр',
      colDate: 'Күнү',
      colIngested: 'Кошулган',
      colSynced: 'Акыркы шайкештештирүү',
      syncTitle: 'Сайттардан шайкештештирүү',
      syncHint: 'Министрликтин сайттарындагы жаңы жана өзгөргөн беттер кошулат; өчүрүлгөн бет үч жолу катары менен табылбаса, алынып салынат.',
      syncButton: 'Азыр шайкештештирүү',
      syncRunning: 'Шайкештештирилүүдө: {done} / {total} бет',
      syncDone: 'Бүттү: {added} кошулду, {changed} өзгөрдү, {removed} алынды, {unchanged} өзгөргөн жок, {failed} окулган жок.',
      syncFailed: 'Шайкештештирүү токтоду: {error}',
      sourceLink: 'Булакты ачуу',
      colActions: 'Аракеттер',
      delete: 'Өчүрүү',
      deleteLabel: '«{title}» документин өчүрүү',
      confirmDelete: '«{title}» документин өчүрөсүзбү? Бул аракетти артка кайтарууга болбойт.',
      deleted: '«{title}» өчүрүлдү.',
      loadingDocs: 'Жүктөлүүдө…',
      noDocuments: 'Документтер азырынча жок.',
      docsCount: 'Бардыгы: {n}',
      adminRequired: 'Бул аракет үчүн администратордун ачкычы керек.',
      adminDisabled: 'Бул серверде документтерди башкаруу өчүрүлгөн. Тизмени гана көрүүгө болот.',
      enterKey: 'Ачкычты киргизүү',
      bytes: 'Б', kb: 'КБ', mb: 'МБ', gb: 'ГБ',
      tabInsights: 'Талдоо',
      insightsTitle: 'Эмне сурашат',
      insightsIntro: 'Бул кызмат аркылуу берилген суроолор: канчасына жооп берилди, канчасы жоопсуз калды же «пайдасыз» деп бааланды, кайсы жоопсуз суроолор кайра-кайра берилет жана жооптор кайсы документтерге таянат. Күндөр UTC боюнча; сактоо мөөнөтү өткөн суроолор өчүрүлөт жана эч жерде эсептелбейт. Колдонуучулардын идентификаторлору көрсөтүлбөйт.',
      insightsSince: 'Баштап',
      insightsUntil: 'Чейин',
      insightsLanguage: 'Тил',
      insightsAllLanguages: 'Бардык тилдер',
      insightsShow: 'Көрсөтүү',
      insightsCsv: 'Топторду жүктөп алуу (CSV)',
      insightsAsked: 'Берилген суроолор',
      insightsAnswered: 'Жооп берилди',
      insightsRefused: 'Жооп табылган жок',
      insightsRatedDown: '«Пайдасыз» деп бааланды',
      insightsRateOf: '{rate} суроолордун',
      insightsPerDay: 'Күн сайын',
      insightsChartLabel: 'Күнүнө берилген, жоопсуз калган жана «пайдасыз» деп бааланган суроолор',
      insightsClusters: 'Жоопсуз жана «пайдасыз» деп бааланган суроолор, топтоштурулган',
      insightsClustersHint: 'Окшош суроолор (ошол эле муктаждык башка сөздөр же башка тил менен) бир топко кирет. Эң чоң топтор — кийинки жарыялоого татыктуу документтер.',
      insightsClusterMeta: '{size} суроо · жоопсуз {refused} · «пайдасыз» {down} · {languages} · {first} – {last}',
      insightsNoClusters: 'Бул аралыкта жоопсуз же «пайдасыз» деп бааланган суроолор жок.',
      insightsPartial: 'Акыркы {n} суроо гана топтоштурулду ({total} ичинен).',
      insightsCited: 'Эң көп шилтеме берилген документтер',
      insightsNoCited: 'Бул аралыкта бир да жооп документке шилтеме берген жок.',
      insightsNever: 'Эч качан шилтеме берилбеген документтер',
      insightsNoneNever: 'Бул аралыкта ар бир документке шилтеме берилди.',
      insightsMoreNever: '…жана дагы {n} документ (толук тизме: GET /v1/insights).',
      insightsLoading: 'Жүктөлүүдө…',
      insightsBadWindow: 'Туура аралыкты тандаңыз: баштоо күнү аяктоо күнүнөн кеч болбошу керек.',
      insightsCsvSaved: 'CSV файлы жүктөлдү.',
      colAnswers: 'Жооптор',
    },
    ru: {
      tagline: 'Документы Министерства образования',
      viewsLabel: 'Разделы',
      tabChat: 'Чат',
      tabDocuments: 'Документы',
      languageLabel: 'Язык интерфейса',
      keyButton: 'Ключ доступа',
      keyButtonTitle: 'Изменить ключ доступа',
      skipToInput: 'Перейти к вопросу',
      messagesLabel: 'Диалог',
      welcomeTitle: 'Задайте вопрос по документам министерства',
      welcomeText: 'Ответы основаны только на загруженных документах. Каждое утверждение связано с источником — нажмите на номер вроде [1], чтобы прочитать цитату. Цитаты приводятся на языке документа (чаще всего на кыргызском) без перевода.',
      thinking: 'Готовлю ответ…',
      questionLabel: 'Ваш вопрос',
      questionPlaceholder: 'Задайте вопрос',
      send: 'Отправить',
      enterHint: 'Enter — отправить · Shift+Enter — новая строка',
      newConversation: 'Новый диалог',
      counterLabel: '{n} / {max} симв.',
      emptyQuestion: 'Сначала введите вопрос.',
      noWords: 'Задайте вопрос словами — одни эмодзи или знаки препинания вопросом не считаются.',
      tooLong: 'Вопрос слишком длинный: {n} симв., лимит — {max}.',
      you: 'Вы',
      assistant: 'Bilim Assistant',
      sources: 'Источники',
      refusedLabel: 'Нет в документах',
      answerLabel: 'Ответ',
      quoteIntro: 'В документах сказано:',
      refusalText: 'К сожалению, в документах нет ответа на этот вопрос. Попробуйте переформулировать его или обратитесь к официальным каналам Министерства образования и науки.',
      openCitation: 'Открыть источник {n}',
      feedbackPrompt: 'Ответ был полезен?',
      fbUp: 'Полезно',
      fbDown: 'Бесполезно',
      fbThanks: 'Спасибо!',
      fbFailed: 'Не удалось отправить оценку.',
      close: 'Закрыть',
      quoteN: 'Цитата [{n}]',
      quoteLabel: 'Текст цитаты',
      docId: 'ID документа',
      date: 'Дата',
      link: 'Ссылка',
      errorGeneric: 'Произошла ошибка (код {status}).',
      errorNetwork: 'Сервис недоступен. Попробуйте ещё раз чуть позже.',
      retryAfter: 'Повторите через {s} с.',
      retry: 'Повторить',
      keyTitle: 'Ключ доступа',
      keyIntro: 'Для работы с сервисом нужен ключ доступа. Получите его у администратора.',
      keyLabel: 'Ключ',
      showKey: 'Показать ключ',
      forgetKey: 'Забыть ключ',
      cancel: 'Отмена',
      save: 'Сохранить',
      keyRejected: 'Ключ не принят. Введите ключ ещё раз.',
      keyEmpty: 'Введите ключ.',
      configFailed: 'Не удалось загрузить настройки сервера.',
      documentsTitle: 'Документы',
      refresh: 'Обновить',
      uploadTitle: 'Загрузка документов',
      uploadHint: 'Форматы: .txt, .md, .html, .pdf, .docx, .jsonl. Максимальный размер файла: {size}.',
      uploadHintNoLimit: 'Форматы: .txt, .md, .html, .pdf, .docx, .jsonl.',
      chooseFiles: 'Выберите файлы',
      uploadButton: 'Загрузить',
      uploadProgress: 'Ход загрузки',
      uploading: 'Загрузка… {p}%',
      processing: 'Обработка документов…',
      uploadDone: 'Готово.',
      noFiles: 'Сначала выберите один или несколько файлов.',
      fileTooLarge: 'Файл «{file}» слишком большой ({size}; лимит — {max}).',
      ingestedN: 'Загружено: {n}',
      failedN: 'Не загружено: {n}',
      chunksN: 'фрагментов: {n}',
      status_added: 'добавлен',
      status_replaced: 'заменён (документ с таким именем уже был)',
      status_unchanged: 'без изменений',
      colTitle: 'Название',
      colId: 'ID',
      colLanguage: 'Язык',
      colChunks: 'Фрагменты',
      colDate: 'Дата',
      colIngested: 'Добавлен',
      colSynced: 'Последняя синхронизация',
      syncTitle: 'Синхронизация с сайтами',
      syncHint: 'Новые и изменённые страницы сайтов министерства добавляются; страница, которой нет три синхронизации подряд, удаляется.',
      syncButton: 'Синхронизировать',
      syncRunning: 'Синхронизация: {done} / {total} стр.',
      syncDone: 'Готово: добавлено {added}, изменено {changed}, удалено {removed}, без изменений {unchanged}, не прочитано {failed}.',
      syncFailed: 'Синхронизация остановилась: {error}',
      sourceLink: 'Открыть источник',
      colActions: 'Действия',
      delete: 'Удалить',
      deleteLabel: 'Удалить документ «{title}»',
      confirmDelete: 'Удалить документ «{title}»? Это действие нельзя отменить.',
      deleted: 'Документ «{title}» удалён.',
      loadingDocs: 'Загрузка…',
      noDocuments: 'Документов пока нет.',
      docsCount: 'Всего: {n}',
      adminRequired: 'Для этого действия нужен ключ администратора.',
      adminDisabled: 'Управление документами на этом сервере отключено. Доступен только просмотр списка.',
      enterKey: 'Ввести ключ',
      bytes: 'Б', kb: 'КБ', mb: 'МБ', gb: 'ГБ',
      tabInsights: 'Аналитика',
      insightsTitle: 'О чём спрашивают',
      insightsIntro: 'Вопросы, заданные через этот сервис: сколько получили ответ, сколько остались без ответа или получили оценку «бесполезно», какие вопросы без ответа повторяются и на какие документы опираются ответы. Дни — по UTC; вопросы старше срока хранения удаляются и нигде не учитываются. Идентификаторы пользователей не показываются.',
      insightsSince: 'С',
      insightsUntil: 'По',
      insightsLanguage: 'Язык',
      insightsAllLanguages: 'Все языки',
      insightsShow: 'Показать',
      insightsCsv: 'Выгрузить группы (CSV)',
      insightsAsked: 'Задано вопросов',
      insightsAnswered: 'С ответом',
      insightsRefused: 'Без ответа',
      insightsRatedDown: 'Оценено «бесполезно»',
      insightsRateOf: '{rate} вопросов',
      insightsPerDay: 'По дням',
      insightsChartLabel: 'Вопросы по дням: заданные, без ответа и с оценкой «бесполезно»',
      insightsClusters: 'Вопросы без ответа и с оценкой «бесполезно», по группам',
      insightsClustersHint: 'Похожие вопросы (та же потребность другими словами или на другом языке) собраны в группы. Самые большие группы подсказывают, какой документ опубликовать следующим.',
      insightsClusterMeta: '{size} вопр. · без ответа {refused} · «бесполезно» {down} · {languages} · {first} – {last}',
      insightsNoClusters: 'В этом периоде нет вопросов без ответа или с оценкой «бесполезно».',
      insightsPartial: 'Сгруппированы только последние {n} из {total}.',
      insightsCited: 'Чаще всего цитируемые документы',
      insightsNoCited: 'В этом периоде ни один ответ не цитировал документ.',
      insightsNever: 'Ни разу не цитированные документы',
      insightsNoneNever: 'В этом периоде цитировался каждый документ.',
      insightsMoreNever: '…и ещё {n} документов (полный список: GET /v1/insights).',
      insightsLoading: 'Загрузка…',
      insightsBadWindow: 'Выберите правильный период: начало не может быть позже конца.',
      insightsCsvSaved: 'CSV-файл сохранён.',
      colAnswers: 'Ответов',
    },
    en: {
      tagline: 'Ministry of Education documents',
      viewsLabel: 'Views',
      tabChat: 'Chat',
      tabDocuments: 'Documents',
      languageLabel: 'Interface language',
      keyButton: 'Access key',
      keyButtonTitle: 'Change the access key',
      skipToInput: 'Skip to the question',
      messagesLabel: 'Conversation',
      welcomeTitle: "Ask about the Ministry's documents",
      welcomeText: 'Answers are based only on the uploaded documents. Every statement is linked to its source — click a number like [1] to read the quoted passage. Quotes are given in the language of the document (mostly Kyrgyz), untranslated.',
      thinking: 'Thinking…',
      questionLabel: 'Your question',
      questionPlaceholder: 'Ask a question',
      send: 'Send',
      enterHint: 'Enter to send · Shift+Enter for a new line',
      newConversation: 'New conversation',
      counterLabel: '{n} / {max} characters',
      emptyQuestion: 'Please type a question first.',
      noWords: 'Please ask a question in words — emoji or punctuation alone is not a question.',
      tooLong: 'The question is too long: {n} characters, the limit is {max}.',
      you: 'You',
      assistant: 'Bilim Assistant',
      sources: 'Sources',
      refusedLabel: 'Not in the documents',
      answerLabel: 'Answer',
      quoteIntro: 'The documents say:',
      refusalText: 'Sorry, the documents do not answer this question. Try rephrasing it, or check the official channels of the Ministry of Education and Science.',
      openCitation: 'Open source {n}',
      feedbackPrompt: 'Was this helpful?',
      fbUp: 'Helpful',
      fbDown: 'Not helpful',
      fbThanks: 'Thanks!',
      fbFailed: 'Could not send the rating.',
      close: 'Close',
      quoteN: 'Quote [{n}]',
      quoteLabel: 'Quoted passage',
      docId: 'Document ID',
      date: 'Date',
      link: 'Link',
      errorGeneric: 'Something went wrong (code {status}).',
      errorNetwork: 'The service is unreachable. Please try again in a moment.',
      retryAfter: 'Try again in {s} s.',
      retry: 'Retry',
      keyTitle: 'Access key',
      keyIntro: 'This service requires an access key. Ask your administrator for one.',
      keyLabel: 'Key',
      showKey: 'Show key',
      forgetKey: 'Forget key',
      cancel: 'Cancel',
      save: 'Save',
      keyRejected: 'The access key was not accepted. Please enter it again.',
      keyEmpty: 'Please enter the key.',
      configFailed: 'Could not load the server settings.',
      documentsTitle: 'Documents',
      refresh: 'Refresh',
      uploadTitle: 'Upload documents',
      uploadHint: 'Formats: .txt, .md, .html, .pdf, .docx, .jsonl. Maximum file size: {size}.',
      uploadHintNoLimit: 'Formats: .txt, .md, .html, .pdf, .docx, .jsonl.',
      chooseFiles: 'Choose files',
      uploadButton: 'Upload',
      uploadProgress: 'Upload progress',
      uploading: 'Uploading… {p}%',
      processing: 'Processing the documents…',
      uploadDone: 'Done.',
      noFiles: 'Choose one or more files first.',
      fileTooLarge: '“{file}” is too large ({size}; the limit is {max}).',
      ingestedN: 'Ingested: {n}',
      failedN: 'Failed: {n}',
      chunksN: '{n} chunks',
      status_added: 'added',
      status_replaced: 'replaced (a document of that name existed)',
      status_unchanged: 'unchanged',
      colTitle: 'Title',
      colId: 'ID',
      colLanguage: 'Language',
      colChunks: 'Chunks',
      colDate: 'Date',
      colIngested: 'Ingested',
      colSynced: 'Last sync',
      syncTitle: 'Sync from websites',
      syncHint: 'New and changed pages of the ministry’s websites are added; a page missing three syncs in a row is removed.',
      syncButton: 'Sync now',
      syncRunning: 'Syncing: {done} / {total} pages',
      syncDone: 'Done: {added} added, {changed} changed, {removed} removed, {unchanged} unchanged, {failed} not readable.',
      syncFailed: 'The sync stopped: {error}',
      sourceLink: 'Open the source',
      colActions: 'Actions',
      delete: 'Delete',
      deleteLabel: 'Delete “{title}”',
      confirmDelete: 'Delete “{title}”? This cannot be undone.',
      deleted: '“{title}” was deleted.',
      loadingDocs: 'Loading…',
      noDocuments: 'No documents yet.',
      docsCount: 'Total: {n}',
      adminRequired: 'An admin key is required for this action.',
      adminDisabled: 'Document management is disabled on this server. You can only view the list.',
      enterKey: 'Enter key',
      bytes: 'B', kb: 'KB', mb: 'MB', gb: 'GB',
      tabInsights: 'Insights',
      insightsTitle: 'What applicants ask',
      insightsIntro: 'Questions asked through this service: how many were answered, refused or rated not helpful, which unanswered questions come back again and again, and which documents the answers stand on. Days are in UTC; questions past the retention period are deleted and count nowhere. No end-user id is shown.',
      insightsSince: 'From',
      insightsUntil: 'To',
      insightsLanguage: 'Language',
      insightsAllLanguages: 'All languages',
      insightsShow: 'Show',
      insightsCsv: 'Export clusters (CSV)',
      insightsAsked: 'Questions asked',
      insightsAnswered: 'Answered',
      insightsRefused: 'Refused',
      insightsRatedDown: 'Rated not helpful',
      insightsRateOf: '{rate} of questions',
      insightsPerDay: 'Per day',
      insightsChartLabel: 'Questions per day: asked, refused and rated not helpful',
      insightsClusters: 'Unanswered and not-helpful questions, grouped',
      insightsClustersHint: 'Near-duplicate questions (the same need in other words or another language) are grouped. The biggest groups point at the document most worth publishing next.',
      insightsClusterMeta: '{size} questions · refused {refused} · not helpful {down} · {languages} · {first} – {last}',
      insightsNoClusters: 'No refused or not-helpful questions in this window.',
      insightsPartial: 'Only the latest {n} of {total} were grouped.',
      insightsCited: 'Documents cited most',
      insightsNoCited: 'No answer cited a document in this window.',
      insightsNever: 'Documents never cited',
      insightsNoneNever: 'Every document was cited in this window.',
      insightsMoreNever: '…and {n} more (the full list: GET /v1/insights).',
      insightsLoading: 'Loading…',
      insightsBadWindow: 'Choose a valid window: the first day cannot be after the last.',
      insightsCsvSaved: 'The CSV file was saved.',
      colAnswers: 'Answers',
    },
  };

  const LANGS = ['ky', 'ru', 'en'];
  const LOCALES = { ky: 'ky-KG', ru: 'ru-RU', en: 'en-GB' };
  const STORE_LANG = 'bilim.uiLanguage';
  const STORE_KEY = 'bilim.apiKey';

  // ---------------------------------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------------------------------

  const state = {
    lang: 'en',
    key: null,
    // max_question_chars: the API's limit from /v1/config; null (no check here, the API checks) until it arrives.
    config: { auth_required: false, admin_enabled: false, max_question_chars: null, max_upload_bytes: 0 },
    configLoaded: false,
    conversationId: null,
    busy: false,
    generation: 0, // bumped by "new conversation" so late answers of a cleared conversation are dropped
    documents: null,
    uploading: false,
    insights: null,
  };

  // ---------------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------------

  const $ = (sel) => document.querySelector(sel);

  function storageGet(name) {
    try { return window.localStorage.getItem(name); } catch (_) { return null; }
  }
  function storageSet(name, value) {
    try {
      if (value === null || value === undefined) window.localStorage.removeItem(name);
      else window.localStorage.setItem(name, value);
    } catch (_) { /* private mode: keep it in memory only */ }
  }

  function t(key, params) {
    const table = I18N[state.lang] || I18N.en;
    let s = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : (I18N.en[key] ?? key);
    if (params) {
      s = s.replace(/\{(\w+)\}/g, (m, name) => (Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m));
    }
    return s;
  }

  /** Create an element. `props.text` → textContent; `props.attrs` → setAttribute; `props.i18n` → translated text. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'text') node.textContent = String(v);
        else if (k === 'className') node.className = v;
        else if (k === 'attrs') for (const [a, av] of Object.entries(v)) { if (av !== undefined && av !== null) node.setAttribute(a, String(av)); }
        else if (k === 'dataset') for (const [d, dv] of Object.entries(v)) node.dataset[d] = String(dv);
        else if (k === 'i18n') bindText(node, v[0], v[1]);
        else if (k === 'i18nAria') bindAttr(node, 'aria-label', v[0], v[1]);
        else if (k === 'i18nTitle') bindAttr(node, 'title', v[0], v[1]);
        else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
        else node[k] = v;
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // Dynamic elements remember their translation key so a language switch re-translates them too.
  function bindText(node, key, params) {
    node.dataset.i18n = key;
    if (params) node.dataset.i18nArgs = JSON.stringify(params); else delete node.dataset.i18nArgs;
    node.textContent = t(key, params);
  }
  function bindAttr(node, attr, key, params) {
    const dataName = attr === 'aria-label' ? 'i18nAriaLabel' : attr === 'title' ? 'i18nTitle' : 'i18nPlaceholder';
    node.dataset[dataName] = key;
    if (params) node.dataset.i18nArgs = JSON.stringify(params);
    node.setAttribute(attr, t(key, params));
  }
  function argsOf(node) {
    if (!node.dataset.i18nArgs) return undefined;
    try { return JSON.parse(node.dataset.i18nArgs); } catch (_) { return undefined; }
  }

  function applyI18n() {
    document.documentElement.lang = state.lang;
    for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n, argsOf(node));
    for (const node of document.querySelectorAll('[data-i18n-aria-label]')) node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel, argsOf(node)));
    for (const node of document.querySelectorAll('[data-i18n-title]')) node.setAttribute('title', t(node.dataset.i18nTitle, argsOf(node)));
    for (const node of document.querySelectorAll('[data-i18n-placeholder]')) node.setAttribute('placeholder', t(node.dataset.i18nPlaceholder, argsOf(node)));
    updateCounter();
    updateUploadHint();
    if (state.documents) renderDocuments(state.documents);
    if (state.insights) renderInsights(state.insights);
  }

  /** Length as the server counts it: whitespace runs collapsed, counted in code points. */
  function questionLength(text) {
    const normalized = text.split(/\s+/).filter(Boolean).join(' ');
    return Array.from(normalized).length;
  }

  function formatBytes(n) {
    if (!Number.isFinite(n) || n <= 0) return '';
    const units = [['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]];
    const nf = new Intl.NumberFormat(LOCALES[state.lang] || undefined, { maximumFractionDigits: 1 });
    for (const [u, size] of units) if (n >= size) return `${nf.format(n / size)} ${t(u)}`;
    return `${nf.format(n)} ${t('bytes')}`;
  }

  function formatDateTime(value) {
    if (!value) return '';
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) return String(value);
    try {
      return new Intl.DateTimeFormat(LOCALES[state.lang] || undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
    } catch (_) {
      return d.toISOString().replace('T', ' ').slice(0, 16);
    }
  }

  // Icons are inline SVG (no icon font, no emoji font needed offline). Paths are constants, never data.
  const ICONS = {
    up: 'M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3H14zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3',
    down: 'M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3H10zM17 2h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17',
    info: 'M12 16v-4M12 8h.01',
  };
  function icon(name) {
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', ICONS[name]);
    svg.append(path);
    return svg;
  }

  const isHttpUrl = (url) => typeof url === 'string' && /^https?:\/\//i.test(url.trim());

  function hostOf(url) {
    try {
      return new URL(url).host;
    } catch (_) {
      return url;
    }
  }

  function externalLink(url, text) {
    return el('a', { href: url.trim(), text: text ?? url, attrs: { target: '_blank', rel: 'noopener noreferrer' } });
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP
  // ---------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, detail, retryAfter) {
      super(detail || `HTTP ${status}`);
      this.status = status;
      this.code = code || '';
      this.detail = detail || '';
      this.retryAfter = retryAfter;
    }
  }
  class NetworkError extends Error {}

  function parseRetryAfter(header) {
    if (!header) return null;
    const trimmed = header.trim();
    if (/^\d+$/.test(trimmed)) return parseInt(trimmed, 10);
    const when = Date.parse(trimmed);
    if (Number.isNaN(when)) return null;
    return Math.max(0, Math.ceil((when - Date.now()) / 1000));
  }

  function apiErrorFrom(status, body, retryAfterHeader) {
    const detail = body && typeof body === 'object' && typeof body.detail === 'string' ? body.detail : '';
    const code = body && typeof body === 'object' && typeof body.code === 'string' ? body.code : '';
    return new ApiError(status, code, detail, parseRetryAfter(retryAfterHeader));
  }

  function parseJson(text) {
    if (!text) return null;
    try { return JSON.parse(text); } catch (_) { return null; }
  }

  function authHeaders() {
    return state.key ? { Authorization: `Bearer ${state.key}` } : {};
  }

  async function api(method, path, body, { auth = true } = {}) {
    const headers = { Accept: 'application/json', ...(auth ? authHeaders() : {}) };
    const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    let text;
    try {
      res = await fetch(path, init);
      text = await res.text();
    } catch (_) {
      throw new NetworkError('network');
    }
    const data = parseJson(text);
    if (!res.ok) {
      const err = apiErrorFrom(res.status, data, res.headers.get('Retry-After'));
      if (res.status === 401) onUnauthorized();
      throw err;
    }
    return data;
  }

  /** A translated, human message for any error thrown by api() or the upload. */
  function errorMessage(err) {
    if (err instanceof NetworkError) return t('errorNetwork');
    if (err instanceof ApiError) {
      if (err.code === 'not_a_question') return t('noWords');
      let msg = err.detail || t('errorGeneric', { status: err.status });
      if (err.status === 429 && err.retryAfter !== null && err.retryAfter !== undefined) {
        msg = `${msg.replace(/[\s.]+$/, '')}. ${t('retryAfter', { s: err.retryAfter })}`;
      }
      return msg;
    }
    return t('errorNetwork');
  }

  // ---------------------------------------------------------------------------------------------
  // Elements
  // ---------------------------------------------------------------------------------------------

  let ui;

  function collectElements() {
    ui = {
      tabChat: $('#tab-chat'),
      tabDocs: $('#tab-documents'),
      tabInsights: $('#tab-insights'),
      viewChat: $('#view-chat'),
      viewDocs: $('#view-documents'),
      viewInsights: $('#view-insights'),
      insightsForm: $('#insights-form'),
      insightsSince: $('#insights-since'),
      insightsUntil: $('#insights-until'),
      insightsLanguage: $('#insights-language'),
      insightsCsv: $('#insights-csv'),
      refreshInsights: $('#refresh-insights'),
      insightsError: $('#insights-error'),
      insightsStatus: $('#insights-status'),
      insightsBody: $('#insights-body'),
      insightsCards: $('#insights-cards'),
      insightsChart: $('#insights-chart'),
      insightsClusters: $('#insights-clusters'),
      insightsPartial: $('#insights-partial'),
      insightsCited: $('#insights-cited tbody'),
      insightsNever: $('#insights-never'),
      lang: $('#ui-language'),
      keyButton: $('#key-button'),
      banner: $('#config-banner'),
      scroll: $('#chat-scroll'),
      messages: $('#messages'),
      empty: $('#empty-state'),
      thinking: $('#thinking .thinking-inner'),
      form: $('#ask-form'),
      question: $('#question'),
      send: $('#send'),
      newConv: $('#new-conversation'),
      counter: $('#question-counter'),
      composerMsg: $('#composer-msg'),
      passage: $('#passage'),
      passageKicker: $('#passage-kicker'),
      passageTitle: $('#passage-title'),
      passageMeta: $('#passage-meta'),
      passageQuote: $('#passage-quote'),
      passageClose: $('#passage-close'),
      keyDialog: $('#key-dialog'),
      keyForm: $('#key-form'),
      keyInput: $('#api-key'),
      keyShow: $('#api-key-show'),
      keyMessage: $('#key-message'),
      keyForget: $('#key-forget'),
      keyCancel: $('#key-cancel'),
      docsNotice: $('#docs-notice'),
      docsError: $('#docs-error'),
      docsStatus: $('#documents-status'),
      docsTable: $('#documents-table'),
      docsBody: $('#documents-table tbody'),
      refreshDocs: $('#refresh-documents'),
      uploadForm: $('#upload-form'),
      syncCard: $('#sync-card'),
      syncButton: $('#sync'),
      syncProgressRow: $('#sync-progress-row'),
      syncProgress: $('#sync-progress'),
      syncProgressText: $('#sync-progress-text'),
      syncResult: $('#sync-result'),
      uploadFiles: $('#upload-files'),
      uploadButton: $('#upload'),
      uploadHint: $('#upload-hint'),
      progressRow: $('#upload-progress-row'),
      progress: $('#upload-progress'),
      progressText: $('#upload-progress-text'),
      uploadResult: $('#upload-result'),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Language
  // ---------------------------------------------------------------------------------------------

  function initialLanguage() {
    const stored = storageGet(STORE_LANG);
    if (LANGS.includes(stored)) return stored;
    const nav = (navigator.language || '').toLowerCase();
    if (nav.startsWith('ky')) return 'ky';
    if (nav.startsWith('ru')) return 'ru';
    return 'en';
  }

  function setLanguage(lang) {
    state.lang = LANGS.includes(lang) ? lang : 'en';
    storageSet(STORE_LANG, state.lang);
    ui.lang.value = state.lang;
    applyI18n();
  }

  // ---------------------------------------------------------------------------------------------
  // Tabs
  // ---------------------------------------------------------------------------------------------

  function tabs() {
    return [['chat', ui.tabChat, ui.viewChat], ['documents', ui.tabDocs, ui.viewDocs], ['insights', ui.tabInsights, ui.viewInsights]];
  }

  function showTab(name, { focus = false } = {}) {
    for (const [tabName, tab, view] of tabs()) {
      const selected = tabName === name;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      view.hidden = !selected;
      if (selected && focus) tab.focus();
    }
    if (name === 'documents') {
      loadDocuments();
      if (state.config.admin_enabled) resumeSync();
    } else if (name === 'insights') loadInsights();
    else ui.question.focus({ preventScroll: true });
  }

  function onTabKeydown(event) {
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key)) return;
    event.preventDefault();
    const visible = tabs().filter(([, tab]) => !tab.hidden);
    const at = visible.findIndex(([, tab]) => tab === event.currentTarget);
    let next = at;
    if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = visible.length - 1;
    else next = (at + (event.key === 'ArrowRight' ? 1 : -1) + visible.length) % visible.length;
    showTab(visible[next][0], { focus: true });
  }

  // ---------------------------------------------------------------------------------------------
  // Access key
  // ---------------------------------------------------------------------------------------------

  let keyDialogReturnFocus = null;

  function openKeyDialog(message) {
    if (message) {
      ui.keyMessage.hidden = false;
      bindText(ui.keyMessage, message);
    } else {
      ui.keyMessage.hidden = true;
      ui.keyMessage.textContent = '';
      delete ui.keyMessage.dataset.i18n;
    }
    ui.keyForget.hidden = !state.key;
    if (!ui.keyDialog.open) {
      keyDialogReturnFocus = document.activeElement;
      ui.keyInput.value = state.key || '';
      ui.keyShow.checked = false;
      ui.keyInput.type = 'password';
      ui.keyDialog.showModal();
    }
    ui.keyInput.focus();
    ui.keyInput.select();
  }

  function closeKeyDialog() {
    if (ui.keyDialog.open) ui.keyDialog.close();
  }

  function onKeyDialogClosed() {
    const target = keyDialogReturnFocus;
    keyDialogReturnFocus = null;
    if (target && target !== document.body && document.contains(target) && !target.disabled) target.focus();
    else ui.question.focus();
  }

  function saveKey(event) {
    event.preventDefault();
    const value = ui.keyInput.value.trim();
    if (!value) {
      ui.keyMessage.hidden = false;
      bindText(ui.keyMessage, 'keyEmpty');
      ui.keyInput.focus();
      return;
    }
    state.key = value;
    storageSet(STORE_KEY, value);
    closeKeyDialog();
    if (!ui.viewDocs.hidden) loadDocuments();
    if (!ui.viewInsights.hidden) loadInsights();
  }

  function forgetKey() {
    state.key = null;
    storageSet(STORE_KEY, null);
    ui.keyInput.value = '';
    ui.keyForget.hidden = true;
    ui.keyInput.focus();
  }

  function onUnauthorized() {
    state.key = null;
    storageSet(STORE_KEY, null);
    openKeyDialog('keyRejected');
  }

  // ---------------------------------------------------------------------------------------------
  // Chat
  // ---------------------------------------------------------------------------------------------

  function updateCounter() {
    if (!ui) return;
    const max = state.config.max_question_chars;
    const n = questionLength(ui.question.value);
    ui.counter.hidden = max === null;
    if (max === null) return;
    bindText(ui.counter, 'counterLabel', { n, max });
    ui.counter.classList.toggle('over', n > max);
    ui.counter.classList.toggle('near', n <= max && n > max * 0.9);
  }

  function showComposerMessage(key, params) {
    if (!key) {
      ui.composerMsg.hidden = true;
      ui.composerMsg.textContent = '';
      delete ui.composerMsg.dataset.i18n;
      return;
    }
    ui.composerMsg.hidden = false;
    bindText(ui.composerMsg, key, params);
  }

  function autoGrow() {
    const q = ui.question;
    q.style.height = 'auto';
    q.style.height = `${Math.min(q.scrollHeight + 2, 220)}px`;
  }

  function setBusy(busy) {
    state.busy = busy;
    ui.send.disabled = busy;
    ui.send.setAttribute('aria-busy', String(busy));
    ui.thinking.hidden = !busy;
    if (busy) scrollToBottom();
  }

  function scrollToBottom() {
    ui.scroll.scrollTop = ui.scroll.scrollHeight;
  }

  function updateEmptyState() {
    ui.empty.hidden = ui.messages.childElementCount > 0;
  }

  function appendMessage(node) {
    ui.messages.append(node);
    updateEmptyState();
  }

  function appendUserMessage(text) {
    const bubble = el('div', { className: 'bubble question-bubble', text });
    appendMessage(el('div', { className: 'msg msg-user' },
      el('span', { className: 'msg-author visually-hidden', i18n: ['you'] }),
      bubble));
    scrollToBottom();
  }

  function appendError(err, retry) {
    const box = el('div', { className: 'error', attrs: { role: 'alert' } },
      el('span', { className: 'error-icon', attrs: { 'aria-hidden': 'true' }, text: '!' }),
      el('span', { className: 'error-text', text: errorMessage(err) }));
    if (err instanceof NetworkError) {
      // errorMessage() was translated now; keep it following the interface language.
      bindText(box.querySelector('.error-text'), 'errorNetwork');
    }
    if (retry) {
      box.append(el('button', {
        type: 'button', className: 'btn btn-small btn-ghost error-retry', i18n: ['retry'],
        on: { click: () => { box.closest('.msg')?.remove(); updateEmptyState(); retry(); } },
      }));
    }
    appendMessage(el('div', { className: 'msg msg-assistant msg-error' }, box));
    scrollToBottom();
  }

  /** A string of the answer's own language (the question's), whatever the interface language is. */
  function tAnswer(answerLang, key) {
    const table = I18N[answerLang] || I18N[state.lang] || I18N.en;
    return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : I18N.en[key];
  }

  /** Render the answer from its parts: a generated answer's sentences each with its [n]; else the lead span and
   * its [n], then each «quote» with its span marked and [n].
   * Nothing is parsed out of the rendered `answer` text. Newlines stay (CSS pre-wrap). */
  function renderAnswerParts(container, data, citations, answerLang) {
    if (data.refused === true) {
      container.append(document.createTextNode(tAnswer(answerLang, 'refusalText')));
      return;
    }
    const byIndex = new Map();
    for (const c of citations) if (c && Number.isInteger(c.index)) byIndex.set(c.index, c);
    const segments = Array.isArray(data.segments) ? data.segments.filter((g) => g && typeof g.text === 'string') : [];
    if (data.generator === 'llm' && segments.length) {
      // A generated answer, verified: each sentence with the [n] of the quote that states it.
      segments.forEach((segment, i) => {
        if (i) container.append(' ');
        container.append(document.createTextNode(segment.text));
        for (const n of Array.isArray(segment.citations) ? segment.citations : []) {
          const cited = byIndex.get(n);
          if (cited) container.append(' ', citeButton(n, cited, answerLang, 'cite'));
        }
        if (!/[?!…]$/.test(segment.text)) container.append('.');
      });
      return;
    }
    const lead = data.lead && typeof data.lead === 'object' && typeof data.lead.text === 'string' ? data.lead : null;
    if (lead) {
      container.append(document.createTextNode(`${tAnswer(answerLang, 'answerLabel')}: `),
        el('strong', { className: 'lead', text: lead.text }));
      const cited = byIndex.get(lead.citation);
      if (cited) container.append(' ', citeButton(lead.citation, cited, answerLang, 'cite'));
    } else {
      container.append(document.createTextNode(tAnswer(answerLang, 'quoteIntro')));
    }
    for (const c of byIndex.values()) {
      const quote = el('span', { className: 'answer-quote' });
      appendHighlighted(quote, typeof c.quote === 'string' ? c.quote : '', c.highlight);
      container.append('\n«', quote, '» ', citeButton(c.index, c, answerLang, 'cite'));
    }
  }

  function citeButton(n, citation, answerLang, className) {
    const button = el('button', {
      type: 'button', className,
      dataset: { index: n },
      // The marker shows only a number, so it gets a spoken name; the sources list shows the title itself.
      i18nAria: className === 'cite' ? ['openCitation', { n }] : null,
    });
    if (className === 'cite') {
      button.append(el('span', { className: 'cite-bracket', attrs: { 'aria-hidden': 'true' }, text: '[' }),
        String(n),
        el('span', { className: 'cite-bracket', attrs: { 'aria-hidden': 'true' }, text: ']' }));
    }
    button.addEventListener('click', () => openPassage(n, citation, answerLang, button));
    return button;
  }

  function appendAnswer(data) {
    const citations = Array.isArray(data.citations) ? data.citations : [];
    const refused = data.refused === true;
    const answerLang = typeof data.language === 'string' && /^[a-z]{2,3}$/i.test(data.language) ? data.language : null;

    const bubble = el('div', {
      className: refused ? 'bubble answer refused' : 'bubble answer',
      attrs: { 'data-answer-id': data.answer_id || '' },
    });
    bubble.append(el('span', { className: 'msg-author visually-hidden', i18n: ['assistant'] }));

    if (refused) {
      bubble.append(el('div', { className: 'refused-label' },
        el('span', { className: 'refused-icon', attrs: { 'aria-hidden': 'true' }, text: 'i' }),
        el('span', { i18n: ['refusedLabel'] })));
    }

    const body = el('div', { className: 'answer-text' });
    if (answerLang) body.lang = answerLang;
    renderAnswerParts(body, data, citations, answerLang);
    bubble.append(body);

    const listed = citations.filter((c) => c && Number.isInteger(c.index));
    if (listed.length) {
      const list = el('ol', { className: 'sources-list' });
      for (const c of listed) {
        const b = citeButton(c.index, c, answerLang, 'source-link');
        b.append(el('span', { className: 'source-num', attrs: { 'aria-hidden': 'true' }, text: String(c.index) }),
          el('span', { className: 'source-title', text: c.title || c.document || '' }));
        const facts = el('span', { className: 'source-facts' });
        if (c.date) facts.append(el('time', { className: 'source-date', text: String(c.date), attrs: { datetime: String(c.date) } }));
        if (isHttpUrl(c.url)) {
          const link = externalLink(String(c.url), hostOf(String(c.url)));
          link.className = 'source-url';
          link.setAttribute('aria-label', `${t('sourceLink')}: ${c.title || c.url}`);
          facts.append(link);
        }
        list.append(el('li', null, b, facts.childNodes.length ? facts : null));
      }
      bubble.append(el('div', { className: 'sources' },
        el('h3', { className: 'sources-heading', i18n: ['sources'] }),
        list));
    }

    if (data.answer_id) bubble.append(feedbackRow(bubble, data.answer_id));

    appendMessage(el('div', { className: 'msg msg-assistant' }, bubble));
    // Show the beginning of the answer: long answers would otherwise be scrolled past.
    const top = bubble.offsetTop - 16;
    ui.scroll.scrollTop = Math.min(top, ui.scroll.scrollHeight);
  }

  function feedbackRow(bubble, answerId) {
    const row = el('div', { className: 'feedback' });
    const prompt = el('span', { className: 'feedback-prompt', i18n: ['feedbackPrompt'] });
    const up = el('button', { type: 'button', className: 'fb fb-up', i18nAria: ['fbUp'], i18nTitle: ['fbUp'], attrs: { 'aria-pressed': 'false' } },
      icon('up'));
    const down = el('button', { type: 'button', className: 'fb fb-down', i18nAria: ['fbDown'], i18nTitle: ['fbDown'], attrs: { 'aria-pressed': 'false' } },
      icon('down'));
    const status = el('span', { className: 'feedback-status', attrs: { 'aria-live': 'polite' } });
    row.append(prompt, up, down, status);

    const send = async (rating, button) => {
      up.disabled = true;
      down.disabled = true;
      status.textContent = '';
      status.classList.remove('fb-error');
      try {
        await api('POST', '/v1/feedback', { answer_id: answerId, rating });
        button.setAttribute('aria-pressed', 'true');
        button.classList.add('chosen');
        prompt.hidden = true;
        status.append(el('span', { className: 'fb-thanks', i18n: ['fbThanks'] }));
      } catch (err) {
        up.disabled = false;
        down.disabled = false;
        status.classList.add('fb-error');
        status.textContent = `${t('fbFailed')} ${err instanceof NetworkError ? '' : errorMessage(err)}`.trim();
      }
    };
    up.addEventListener('click', () => send('up', up));
    down.addEventListener('click', () => send('down', down));
    return row;
  }

  async function ask(text) {
    const generation = state.generation;
    setBusy(true);
    try {
      const data = await api('POST', '/v1/ask', { question: text, conversation_id: state.conversationId });
      if (generation !== state.generation) return;
      if (!data || typeof data !== 'object') throw new ApiError(502, 'bad_response', '', null);
      if (typeof data.conversation_id === 'string' && data.conversation_id) state.conversationId = data.conversation_id;
      appendAnswer(data);
    } catch (err) {
      if (generation !== state.generation) return;
      const retry = err instanceof NetworkError || (err instanceof ApiError && (err.status === 429 || err.status >= 500))
        ? () => { if (!state.busy) ask(text); } : null;
      appendError(err, retry);
      // Give the question back so it can be corrected or re-sent (e.g. after entering a key).
      if (!ui.question.value.trim() && !retry) {
        ui.question.value = text;
        updateCounter();
        autoGrow();
      }
    } finally {
      if (generation === state.generation) {
        setBusy(false);
        const active = document.activeElement;
        if ((!active || active === document.body || active === ui.send) && !ui.keyDialog.open && !ui.passage.open) ui.question.focus();
      }
    }
  }

  function submitQuestion() {
    if (state.busy) return;
    const text = ui.question.value.trim();
    if (!text) {
      showComposerMessage('emptyQuestion');
      ui.question.focus();
      return;
    }
    // Emoji, punctuation or invisible characters alone ask nothing (the API answers them with a 422 too).
    if (!/[\p{L}\p{N}]/u.test(text)) {
      showComposerMessage('noWords');
      ui.question.focus();
      return;
    }
    const n = questionLength(text);
    const max = state.config.max_question_chars;
    if (max !== null && n > max) {
      showComposerMessage('tooLong', { n, max });
      ui.question.focus();
      return;
    }
    showComposerMessage(null);
    if (state.config.auth_required && !state.key) {
      openKeyDialog();
      return;
    }
    appendUserMessage(text);
    ui.question.value = '';
    updateCounter();
    autoGrow();
    ask(text);
  }

  function newConversation() {
    state.generation += 1;
    state.conversationId = null;
    if (ui.passage.open) ui.passage.close();
    ui.messages.replaceChildren();
    setBusy(false);
    showComposerMessage(null);
    updateEmptyState();
    ui.question.focus();
  }

  // ---------------------------------------------------------------------------------------------
  // Passage panel
  // ---------------------------------------------------------------------------------------------

  let passageReturnFocus = null;

  function metaRow(labelKey, valueNode) {
    return [el('dt', { i18n: [labelKey] }), el('dd', null, valueNode)];
  }

  /** Render the quote, wrapping citation.highlight ([start, end] code-point offsets into the quote) in <mark>;
   *  inside its paragraph (citation.context: text, and the quote's [start, end] in it) when the server sends one. */
  function renderQuote(container, quote, highlight, context) {
    container.replaceChildren();
    const at = context && typeof context.text === 'string' && Array.isArray(context.quote) ? context.quote : null;
    const chars = at ? Array.from(context.text) : [];
    if (!at || !at.every(Number.isInteger) || at[0] < 0 || at[1] > chars.length || chars.slice(at[0], at[1]).join('') !== quote) {
      appendHighlighted(container, quote, highlight);
      return;
    }
    const before = chars.slice(0, at[0]).join('');
    const after = chars.slice(at[1]).join('');
    if (before) container.append(el('span', { className: 'context-text', text: before }));
    const quoted = el('span', { className: 'quote-in-context' });
    appendHighlighted(quoted, quote, highlight);
    container.append(quoted);
    if (after) container.append(el('span', { className: 'context-text', text: after }));
  }

  function appendHighlighted(container, quote, highlight) {
    const chars = Array.from(quote);
    let start = null;
    let end = null;
    if (Array.isArray(highlight) && highlight.length === 2 && highlight.every(Number.isInteger)) {
      start = Math.max(0, Math.min(highlight[0], chars.length));
      end = Math.max(0, Math.min(highlight[1], chars.length));
    }
    if (start === null || end <= start) {
      container.append(document.createTextNode(quote));
      return;
    }
    const before = chars.slice(0, start).join('');
    const middle = chars.slice(start, end).join('');
    const after = chars.slice(end).join('');
    if (before) container.append(document.createTextNode(before));
    container.append(el('mark', { text: middle }));
    if (after) container.append(document.createTextNode(after));
  }

  function openPassage(n, citation, answerLang, opener) {
    bindText(ui.passageKicker, 'quoteN', { n });
    ui.passageTitle.textContent = citation.title || citation.document || '';

    const meta = [];
    if (citation.document) meta.push(...metaRow('docId', el('code', { text: citation.document })));
    if (citation.date) meta.push(...metaRow('date', document.createTextNode(String(citation.date))));
    if (citation.url) {
      const url = String(citation.url);
      meta.push(...metaRow('link', isHttpUrl(url) ? externalLink(url) : document.createTextNode(url)));
    }
    ui.passageMeta.replaceChildren(...meta);
    ui.passageMeta.hidden = meta.length === 0;

    renderQuote(ui.passageQuote, typeof citation.quote === 'string' ? citation.quote : '', citation.highlight,
      citation.context);
    if (answerLang) ui.passageQuote.lang = answerLang; else ui.passageQuote.removeAttribute('lang');

    if (!ui.passage.open) {
      passageReturnFocus = opener || document.activeElement;
      ui.passage.showModal();
    } else if (opener) {
      passageReturnFocus = opener;
    }
    ui.passage.scrollTop = 0;
    ui.passageClose.focus();
  }

  function onPassageClosed() {
    const target = passageReturnFocus;
    passageReturnFocus = null;
    if (target && document.contains(target)) target.focus();
  }

  // ---------------------------------------------------------------------------------------------
  // Documents
  // ---------------------------------------------------------------------------------------------

  function updateUploadHint() {
    if (!ui) return;
    const max = state.config.max_upload_bytes;
    if (max > 0) bindText(ui.uploadHint, 'uploadHint', { size: formatBytes(max) });
    else bindText(ui.uploadHint, 'uploadHintNoLimit');
  }

  function applyAdminMode() {
    const enabled = state.config.admin_enabled;
    ui.tabInsights.hidden = !enabled;
    if (!enabled && !ui.viewInsights.hidden) showTab('chat');
    ui.uploadForm.hidden = !enabled;
    ui.syncCard.hidden = !enabled;
    ui.docsTable.classList.toggle('no-actions', !enabled);
    if (!enabled) {
      ui.docsNotice.hidden = false;
      bindText(ui.docsNotice, 'adminDisabled');
    } else {
      ui.docsNotice.hidden = true;
    }
  }

  function showDocsError(err) {
    ui.docsError.replaceChildren();
    if (!err) { ui.docsError.hidden = true; return; }
    ui.docsError.hidden = false;
    const text = el('span', { className: 'error-text' });
    if (err instanceof ApiError && err.status === 403) {
      bindText(text, 'adminRequired');
      ui.docsError.append(el('span', { className: 'error-icon', attrs: { 'aria-hidden': 'true' }, text: '!' }), text,
        el('button', { type: 'button', className: 'btn btn-small btn-ghost', i18n: ['enterKey'], on: { click: () => openKeyDialog() } }));
      return;
    }
    if (err instanceof NetworkError) bindText(text, 'errorNetwork'); else text.textContent = errorMessage(err);
    ui.docsError.append(el('span', { className: 'error-icon', attrs: { 'aria-hidden': 'true' }, text: '!' }), text);
  }

  let docsRequest = 0;

  async function loadDocuments() {
    const request = ++docsRequest;
    applyAdminMode();
    bindText(ui.docsStatus, 'loadingDocs');
    ui.docsTable.setAttribute('aria-busy', 'true');
    try {
      const data = await api('GET', '/v1/documents');
      if (request !== docsRequest) return;
      state.documents = Array.isArray(data && data.documents) ? data.documents : [];
      showDocsError(null);
      renderDocuments(state.documents);
    } catch (err) {
      if (request !== docsRequest) return;
      ui.docsStatus.textContent = '';
      delete ui.docsStatus.dataset.i18n;
      showDocsError(err);
    } finally {
      if (request === docsRequest) ui.docsTable.removeAttribute('aria-busy');
    }
  }

  function cell(labelKey, content, className) {
    const td = el('td', { className });
    td.dataset.label = t(labelKey);
    if (content instanceof Node) td.append(content);
    else td.textContent = content === null || content === undefined || content === '' ? '—' : String(content);
    return td;
  }

  function renderDocuments(docs) {
    const rows = [];
    for (const doc of docs) {
      if (!doc || typeof doc !== 'object') continue;
      const id = String(doc.id ?? '');
      const title = doc.title ? String(doc.title) : id;
      const titleNode = isHttpUrl(doc.url) ? externalLink(String(doc.url), title) : document.createTextNode(title);
      const ingested = el('span', { text: formatDateTime(doc.ingested_at) || '—' });
      if (doc.ingested_at) ingested.title = String(doc.ingested_at);
      const tr = el('tr', null,
        cell('colTitle', el('span', { className: 'doc-title' }, titleNode), 'cell-title'),
        cell('colId', el('code', { text: id }), 'cell-id'),
        cell('colLanguage', doc.language, 'cell-lang'),
        cell('colChunks', Number.isFinite(doc.chunks) ? doc.chunks : doc.chunks ?? '', 'num'),
        cell('colDate', doc.date, 'cell-date'),
        cell('colIngested', ingested, 'cell-ingested'),
        cell('colSynced', doc.synced_at ? formatDateTime(doc.synced_at) : '', 'cell-synced'));
      const actions = el('td', { className: 'col-actions' });
      if (state.config.admin_enabled) {
        actions.append(el('button', {
          type: 'button', className: 'btn btn-small btn-danger delete-doc', dataset: { id },
          i18n: ['delete'], i18nAria: ['deleteLabel', { title }],
          on: { click: (e) => deleteDocument(id, title, e.currentTarget) },
        }));
      }
      tr.append(actions);
      rows.push(tr);
    }
    ui.docsBody.replaceChildren(...rows);
    if (rows.length === 0) {
      ui.docsBody.append(el('tr', { className: 'empty-row' }, el('td', { attrs: { colspan: 8 }, i18n: ['noDocuments'] })));
    }
    bindText(ui.docsStatus, 'docsCount', { n: rows.length });
  }

  async function deleteDocument(id, title, button) {
    if (!window.confirm(t('confirmDelete', { title }))) return;
    button.disabled = true;
    try {
      await api('DELETE', `/v1/documents/${encodeURIComponent(id)}`);
      showDocsError(null);
      await loadDocuments();
      bindText(ui.docsStatus, 'deleted', { title });
    } catch (err) {
      button.disabled = false;
      showDocsError(err);
    }
  }

  // A sync runs on the server; the page follows it (GET /v1/sync) until it ends, then lists the documents again.
  let syncFollowing = false;

  async function startSync() {
    ui.syncButton.disabled = true;
    ui.syncResult.replaceChildren();
    try {
      await api('POST', '/v1/sync');
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'already_running')) {
        ui.syncButton.disabled = false;
        ui.syncResult.replaceChildren(el('div', { className: 'result-error', text: errorMessage(err) }));
        return;
      }
    }
    await followSync();
  }

  function showSyncStatus(status) {
    const running = status.state === 'running';
    ui.syncProgressRow.hidden = !running;
    ui.syncButton.disabled = running;
    if (running) {
      ui.syncProgress.max = Math.max(1, status.pages_total || 0);
      ui.syncProgress.value = Math.min(status.pages_done || 0, ui.syncProgress.max);
      bindText(ui.syncProgressText, 'syncRunning', { done: status.pages_done || 0, total: status.pages_total || 0 });
      return;
    }
    if (status.state === 'done') {
      const failed = Array.isArray(status.failed) ? status.failed : [];
      const summary = el('div', { className: failed.length ? 'result-warn' : 'result-ok' });
      summary.append(el('strong', { i18n: ['syncDone', {
        added: status.added, changed: status.changed, removed: status.removed, unchanged: status.unchanged,
        failed: failed.length,
      }] }));
      if (failed.length) {
        const list = el('ul');
        for (const f of failed.slice(0, 20)) list.append(el('li', null, el('code', { text: String(f.url) }), ' — ', String(f.reason)));
        summary.append(list);
      }
      ui.syncResult.replaceChildren(summary);
    } else if (status.state === 'failed') {
      ui.syncResult.replaceChildren(el('div', { className: 'result-error', i18n: ['syncFailed', { error: status.error || '' }] }));
    }
  }

  /** A sync started elsewhere (another tab, the schedule) is followed when the Documents tab opens. */
  async function resumeSync() {
    try {
      const status = await api('GET', '/v1/sync');
      if (status.state === 'running') followSync();
    } catch (_) {
      // No admin key yet, or the server is busy: the Sync button still works once it is.
    }
  }

  async function followSync() {
    if (syncFollowing) return;
    syncFollowing = true;
    try {
      for (;;) {
        const status = await api('GET', '/v1/sync');
        showSyncStatus(status);
        if (status.state !== 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      await loadDocuments();
    } catch (err) {
      ui.syncButton.disabled = false;
      ui.syncResult.replaceChildren(el('div', { className: 'result-error', text: errorMessage(err) }));
    } finally {
      syncFollowing = false;
    }
  }

  function renderUploadResult(data) {
    const ingested = Array.isArray(data && data.ingested) ? data.ingested : [];
    const failed = Array.isArray(data && data.failed) ? data.failed : [];
    const parts = [];
    if (ingested.length || !failed.length) {
      const list = el('ul');
      for (const item of ingested) {
        const status = ['added', 'replaced', 'unchanged'].includes(item.status) ? item.status : 'added';
        list.append(el('li', null, el('code', { text: String(item.id ?? '') }), ' — ',
          el('span', { className: `upload-${status}`, i18n: [`status_${status}`] }), ', ',
          el('span', { i18n: ['chunksN', { n: item.chunks ?? 0 }] })));
      }
      parts.push(el('div', { className: 'result-ok' },
        el('strong', { i18n: ['ingestedN', { n: ingested.length }] }), ingested.length ? list : null));
    }
    if (failed.length) {
      const list = el('ul');
      for (const item of failed) {
        list.append(el('li', null, el('strong', { text: String(item.file ?? '') }), ': ', String(item.error ?? '')));
      }
      parts.push(el('div', { className: 'result-failed' },
        el('strong', { i18n: ['failedN', { n: failed.length }] }), list));
    }
    ui.uploadResult.replaceChildren(...parts);
  }

  function uploadError(err) {
    const box = el('div', { className: 'error', attrs: { role: 'alert' } },
      el('span', { className: 'error-icon', attrs: { 'aria-hidden': 'true' }, text: '!' }));
    const text = el('span', { className: 'error-text' });
    if (err instanceof ApiError && err.status === 403) bindText(text, 'adminRequired');
    else if (err instanceof NetworkError) bindText(text, 'errorNetwork');
    else text.textContent = errorMessage(err);
    box.append(text);
    if (err instanceof ApiError && err.status === 403) {
      box.append(el('button', { type: 'button', className: 'btn btn-small btn-ghost', i18n: ['enterKey'], on: { click: () => openKeyDialog() } }));
    }
    ui.uploadResult.replaceChildren(box);
  }

  function setUploading(on) {
    state.uploading = on;
    ui.uploadButton.disabled = on;
    ui.uploadFiles.disabled = on;
    ui.uploadForm.setAttribute('aria-busy', String(on));
  }

  function setProgress(percent, key, params) {
    ui.progressRow.hidden = false;
    if (percent === null) ui.progress.removeAttribute('value'); // indeterminate while the server ingests
    else ui.progress.value = percent;
    bindText(ui.progressText, key, params);
  }

  function uploadDocuments(event) {
    event.preventDefault();
    if (state.uploading) return;
    const files = Array.from(ui.uploadFiles.files || []);
    if (!files.length) {
      ui.uploadResult.replaceChildren(el('p', { className: 'hint-warn', i18n: ['noFiles'] }));
      ui.uploadFiles.focus();
      return;
    }
    const max = state.config.max_upload_bytes;
    if (max > 0) {
      const big = files.find((f) => f.size > max);
      if (big) {
        ui.uploadResult.replaceChildren(el('p', { className: 'hint-warn', attrs: { role: 'alert' },
          i18n: ['fileTooLarge', { file: big.name, size: formatBytes(big.size), max: formatBytes(max) }] }));
        return;
      }
    }

    const form = new FormData();
    for (const f of files) form.append('files', f, f.name);

    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/documents');
    xhr.setRequestHeader('Accept', 'application/json');
    if (state.key) xhr.setRequestHeader('Authorization', `Bearer ${state.key}`);

    ui.uploadResult.replaceChildren();
    setUploading(true);
    setProgress(0, 'uploading', { p: 0 });

    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const p = Math.min(100, Math.round((e.loaded / e.total) * 100));
      setProgress(p, 'uploading', { p });
    };
    xhr.upload.onload = () => setProgress(null, 'processing');

    const finish = () => setUploading(false);

    xhr.onload = () => {
      finish();
      const data = parseJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) {
        setProgress(100, 'uploadDone');
        renderUploadResult(data);
        ui.uploadFiles.value = '';
        loadDocuments();
        return;
      }
      ui.progressRow.hidden = true;
      const err = apiErrorFrom(xhr.status, data, xhr.getResponseHeader('Retry-After'));
      if (xhr.status === 401) onUnauthorized();
      uploadError(err);
    };
    xhr.onerror = () => { finish(); ui.progressRow.hidden = true; uploadError(new NetworkError('network')); };
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => { finish(); ui.progressRow.hidden = true; };
    xhr.send(form);
  }


  // ---------------------------------------------------------------------------------------------
  // Insights (admin keys): what applicants ask, what goes unanswered, which documents carry the load
  // ---------------------------------------------------------------------------------------------

  const NEVER_CITED_SHOWN = 50; // the rest are counted; /v1/insights lists them all
  let chartLibrary = null;
  let dailyChart = null;
  let insightsRequest = 0;

  /** Chart.js from the app's own static files, loaded the first time the tab needs it (no CDN). */
  function loadChartLibrary() {
    if (window.Chart) return Promise.resolve(window.Chart);
    if (!chartLibrary) {
      chartLibrary = new Promise((resolve, reject) => {
        const script = el('script', { src: '/static/vendor/chart.umd.min.js' });
        script.addEventListener('load', () => resolve(window.Chart));
        script.addEventListener('error', () => { chartLibrary = null; script.remove(); reject(new NetworkError('chart')); });
        document.head.append(script);
      });
    }
    return chartLibrary;
  }

  function isoDay(date) { return date.toISOString().slice(0, 10); }

  function insightsParams() {
    if (!ui.insightsUntil.value) ui.insightsUntil.value = isoDay(new Date());
    if (!ui.insightsSince.value) {
      const until = new Date(`${ui.insightsUntil.value}T00:00:00Z`);
      ui.insightsSince.value = isoDay(new Date(until.getTime() - 29 * 86400000));
    }
    const params = new URLSearchParams({ since: ui.insightsSince.value, until: ui.insightsUntil.value });
    if (ui.insightsLanguage.value) params.set('language', ui.insightsLanguage.value);
    return params;
  }

  function showInsightsError(err, key) {
    ui.insightsError.replaceChildren();
    if (!err && !key) { ui.insightsError.hidden = true; return; }
    ui.insightsError.hidden = false;
    const text = el('span', { className: 'error-text' });
    const icon = el('span', { className: 'error-icon', attrs: { 'aria-hidden': 'true' }, text: '!' });
    if (key) bindText(text, key);
    else if (err instanceof ApiError && err.status === 403) {
      bindText(text, 'adminRequired');
      ui.insightsError.append(icon, text,
        el('button', { type: 'button', className: 'btn btn-small btn-ghost', i18n: ['enterKey'], on: { click: () => openKeyDialog() } }));
      return;
    } else if (err instanceof NetworkError) bindText(text, 'errorNetwork');
    else text.textContent = errorMessage(err);
    ui.insightsError.append(icon, text);
  }

  function clearStatus(node) {
    node.textContent = '';
    delete node.dataset.i18n;
  }

  async function loadInsights() {
    const params = insightsParams();
    if (params.get('since') > params.get('until')) { showInsightsError(null, 'insightsBadWindow'); return; }
    const request = ++insightsRequest;
    showInsightsError(null);
    bindText(ui.insightsStatus, 'insightsLoading');
    ui.insightsBody.setAttribute('aria-busy', 'true');
    try {
      const [data] = await Promise.all([api('GET', `/v1/insights?${params}`), loadChartLibrary()]);
      if (request !== insightsRequest) return;
      state.insights = data;
      clearStatus(ui.insightsStatus);
      renderInsights(data);
    } catch (err) {
      if (request !== insightsRequest) return;
      clearStatus(ui.insightsStatus);
      showInsightsError(err);
    } finally {
      if (request === insightsRequest) ui.insightsBody.removeAttribute('aria-busy');
    }
  }

  function formatRate(rate) {
    return new Intl.NumberFormat(LOCALES[state.lang] || undefined, { style: 'percent', maximumFractionDigits: 1 }).format(rate);
  }

  function formatDay(iso) {
    const d = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
    if (Number.isNaN(d.getTime())) return iso;
    return new Intl.DateTimeFormat(LOCALES[state.lang] || undefined, { dateStyle: 'medium', timeZone: 'UTC' }).format(d);
  }

  function renderInsights(data) {
    const totals = data.totals;
    const card = (labelKey, value, rate) => el('div', { className: 'insight-card' },
      el('span', { className: 'insight-label', i18n: [labelKey] }),
      el('strong', { className: 'insight-value', text: value }),
      rate === undefined ? null : el('span', { className: 'insight-rate', i18n: ['insightsRateOf', { rate: formatRate(rate) }] }));
    ui.insightsCards.replaceChildren(
      card('insightsAsked', totals.asked),
      card('insightsAnswered', totals.answered, totals.answered_rate),
      card('insightsRefused', totals.refused, totals.refused_rate),
      card('insightsRatedDown', totals.rated_down, totals.rated_down_rate));
    renderDailyChart(data.days);

    ui.insightsPartial.hidden = data.clustered >= data.unanswered_total;
    if (!ui.insightsPartial.hidden) bindText(ui.insightsPartial, 'insightsPartial', { n: data.clustered, total: data.unanswered_total });
    if (!data.clusters.length) {
      ui.insightsClusters.replaceChildren(el('li', { className: 'hint', i18n: ['insightsNoClusters'] }));
    } else {
      ui.insightsClusters.replaceChildren(...data.clusters.map((c) => el('li', { className: 'cluster', dataset: { size: c.size } },
        el('ul', { className: 'cluster-examples' }, ...c.examples.map((q) => el('li', { text: q }))),
        el('p', { className: 'cluster-meta', i18n: ['insightsClusterMeta', {
          size: c.size, refused: c.refused, down: c.rated_down,
          languages: Object.entries(c.languages).map(([lang, n]) => `${lang} ${n}`).join(', '),
          first: formatDay(c.first_asked), last: formatDay(c.last_asked),
        }] }))));
    }

    const cited = data.documents.cited;
    ui.insightsCited.replaceChildren(...(cited.length ? cited.map((d) => el('tr', null,
      cell('colTitle', d.title), cell('colId', d.document, 'mono'), cell('colAnswers', d.answers, 'num')))
      : [el('tr', null, el('td', { attrs: { colspan: 3 }, className: 'hint', i18n: ['insightsNoCited'] }))]));
    const never = data.documents.never_cited;
    const shown = never.slice(0, NEVER_CITED_SHOWN);
    ui.insightsNever.replaceChildren(...(never.length
      ? shown.map((d) => el('li', null, el('span', { text: d.title }), ' ', el('span', { className: 'mono muted', text: d.document })))
      : [el('li', { className: 'hint', i18n: ['insightsNoneNever'] })]));
    if (never.length > shown.length) {
      ui.insightsNever.append(el('li', { className: 'hint', i18n: ['insightsMoreNever', { n: never.length - shown.length }] }));
    }
    ui.insightsBody.hidden = false;
  }

  function renderDailyChart(days) {
    if (!window.Chart) return;
    const series = (key) => days.map((d) => d[key]);
    const line = (labelKey, key, color) => ({
      label: t(labelKey), data: series(key), borderColor: color, backgroundColor: color, tension: 0.2, pointRadius: 2,
    });
    const config = {
      type: 'line',
      data: {
        labels: days.map((d) => formatDay(d.day)),
        datasets: [
          line('insightsAsked', 'asked', '#1f6feb'),
          line('insightsRefused', 'refused', '#bf8700'),
          line('insightsRatedDown', 'rated_down', '#cf222e'),
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    };
    if (dailyChart) dailyChart.destroy();
    dailyChart = new window.Chart(ui.insightsChart, config);
    ui.insightsChart.dataset.rendered = String(days.length);
  }

  async function exportClusters() {
    const params = insightsParams();
    if (params.get('since') > params.get('until')) { showInsightsError(null, 'insightsBadWindow'); return; }
    showInsightsError(null);
    let res;
    let blob;
    try {
      res = await fetch(`/v1/insights/clusters.csv?${params}`, { headers: authHeaders(), cache: 'no-store', credentials: 'same-origin' });
      blob = await res.blob();
    } catch (_) {
      showInsightsError(new NetworkError('network'));
      return;
    }
    if (!res.ok) {
      const err = apiErrorFrom(res.status, parseJson(await blob.text()), res.headers.get('Retry-After'));
      if (res.status === 401) onUnauthorized();
      showInsightsError(err);
      return;
    }
    const named = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: named ? named[1] : 'clusters.csv', hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    bindText(ui.insightsStatus, 'insightsCsvSaved');
  }

  // ---------------------------------------------------------------------------------------------
  // Configuration
  // ---------------------------------------------------------------------------------------------

  async function loadConfig() {
    try {
      const cfg = await api('GET', '/v1/config', undefined, { auth: false });
      if (cfg && typeof cfg === 'object') {
        if (typeof cfg.auth_required === 'boolean') state.config.auth_required = cfg.auth_required;
        if (typeof cfg.admin_enabled === 'boolean') state.config.admin_enabled = cfg.admin_enabled;
        if (Number.isInteger(cfg.max_question_chars) && cfg.max_question_chars > 0) state.config.max_question_chars = cfg.max_question_chars;
        if (Number.isInteger(cfg.max_upload_bytes) && cfg.max_upload_bytes >= 0) state.config.max_upload_bytes = cfg.max_upload_bytes;
      }
      state.configLoaded = true;
      ui.banner.hidden = true;
      ui.banner.replaceChildren();
    } catch (err) {
      ui.banner.hidden = false;
      ui.banner.replaceChildren(
        el('span', { i18n: ['configFailed'] }), ' ',
        err instanceof NetworkError ? el('span', { i18n: ['errorNetwork'] }) : el('span', { text: errorMessage(err) }), ' ',
        el('button', { type: 'button', className: 'btn btn-small btn-ghost', i18n: ['retry'], on: { click: loadConfig } }));
    }
    updateCounter();
    updateUploadHint();
    applyAdminMode();
    if (state.documents) renderDocuments(state.documents);
    if (state.configLoaded && state.config.auth_required && !state.key) openKeyDialog();
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring
  // ---------------------------------------------------------------------------------------------

  function init() {
    collectElements();
    state.key = storageGet(STORE_KEY) || null;
    setLanguage(initialLanguage());
    updateEmptyState();
    ui.thinking.hidden = true;

    ui.lang.addEventListener('change', () => setLanguage(ui.lang.value));

    ui.tabChat.addEventListener('click', () => showTab('chat'));
    ui.tabDocs.addEventListener('click', () => showTab('documents'));
    ui.tabChat.addEventListener('keydown', onTabKeydown);
    ui.tabDocs.addEventListener('keydown', onTabKeydown);
    ui.tabInsights.addEventListener('click', () => showTab('insights'));
    ui.tabInsights.addEventListener('keydown', onTabKeydown);
    ui.insightsForm.addEventListener('submit', (e) => { e.preventDefault(); loadInsights(); });
    ui.refreshInsights.addEventListener('click', loadInsights);
    ui.insightsCsv.addEventListener('click', exportClusters);

    ui.form.addEventListener('submit', (e) => { e.preventDefault(); submitQuestion(); });
    ui.question.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submitQuestion();
      }
    });
    ui.question.addEventListener('input', () => {
      updateCounter();
      autoGrow();
      if (!ui.composerMsg.hidden && ui.composerMsg.dataset.i18n === 'emptyQuestion' && ui.question.value.trim()) showComposerMessage(null);
      if (!ui.composerMsg.hidden && ui.composerMsg.dataset.i18n === 'tooLong'
        && questionLength(ui.question.value) <= (state.config.max_question_chars ?? Infinity)) showComposerMessage(null);
    });
    ui.newConv.addEventListener('click', newConversation);

    ui.passageClose.addEventListener('click', () => ui.passage.close());
    ui.passage.addEventListener('close', onPassageClosed);
    ui.passage.addEventListener('click', (e) => { if (e.target === ui.passage) ui.passage.close(); }); // backdrop

    ui.keyButton.addEventListener('click', () => openKeyDialog());
    ui.keyForm.addEventListener('submit', saveKey);
    ui.keyCancel.addEventListener('click', closeKeyDialog);
    ui.keyForget.addEventListener('click', forgetKey);
    ui.keyShow.addEventListener('change', () => { ui.keyInput.type = ui.keyShow.checked ? 'text' : 'password'; });
    ui.keyDialog.addEventListener('close', onKeyDialogClosed);

    ui.refreshDocs.addEventListener('click', loadDocuments);
    ui.uploadForm.addEventListener('submit', uploadDocuments);
    ui.syncButton.addEventListener('click', startSync);

    updateCounter();
    updateUploadHint();
    applyAdminMode();
    ui.question.focus({ preventScroll: true });
    loadConfig();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
